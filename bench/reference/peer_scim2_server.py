"""The peer: ``scim2-server`` (PyPI) as a WSGI app for gunicorn, seeded in memory.

scim2-server ships a dependency-free WSGI application
(``scim2_server.applications.wsgi.WSGIApplication``) over an
``InMemoryStorage``; its own ``scim2-server`` command serves it with wsgiref.
Here the same application is exposed as ``app`` so gunicorn serves it the way
the real app is served::

    PEER_SEED_USERS=2000 PEER_IDS_FILE=/tmp/ids gunicorn --preload -w 1 \\
        --worker-class gthread --threads 8 -b 127.0.0.1:8001 bench.reference.peer_scim2_server:app

URL layout: the SCIM root is ``/v2`` (the prefix is optional: ``/Users``
works too), so the bench's ``SCIM_BASE`` is ``/v2``.

Storage is per process: with several forked workers each would keep its own
copy, and a user created through one would be a 404 through the other. So the
bench serves it as one process with threads, the only way it stays one
directory, and seeds it at import time (``--preload``).

Environment:

* ``PEER_SEED_USERS``: how many users ``user1..userN@acme.com`` to create
  before serving (default 0).
* ``PEER_IDS_FILE``: where to write "id<TAB>userName" of the seeded users.
* ``PEER_BEARER_TOKEN``: when set, every request except
  ``/ServiceProviderConfig`` needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import gc
import json
import os
from http import HTTPStatus
from pathlib import Path

from scim2_models import ScimProvider
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_provider,
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from bench.scim_payloads import DEFAULT_USERNAME_FORMAT, jumpcloud_user

SCIM_BASE = "/v2"


def seed_users(
    app: WSGIApplication,
    count: int,
    username_format: str = DEFAULT_USERNAME_FORMAT,
) -> list[tuple[str, str]]:
    """Create users 1..count through the app's own service and storage; return (id, userName).

    ``read_creation()`` validates each document exactly as an HTTP create
    does and ``storage.create()`` indexes it the same way; only the WSGI round
    trip and the response serialisation are skipped, which halves the time
    (a delete run needs tens of thousands of users).
    """
    service = app.service
    resource_type = service.resource_type_at("Users")
    created = []
    # The handler enters the provider for every request; seeding does the same.
    with service.provider:
        for n in range(1, count + 1):
            document = json.dumps(jumpcloud_user(n, username_format)).encode()
            resource = service.read_creation(resource_type, document, "application/scim+json")
            with app.storage.operation():
                stored = app.storage.create(resource_type, resource)
            created.append((str(stored.id), str(stored.user_name)))
    return created


def warm_filter_index(app: WSGIApplication, user_name: str, token: str | None = None) -> None:
    """Serve one ``userName eq`` filter in process, so the storage builds its index now.

    InMemoryStorage builds an attribute's equality index on the first filter
    by that attribute, walking every resource (seconds for 20k users). Done
    before fork, the workers inherit it instead of each stalling on their
    first filter request while the load runs.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = ScimRequest(
        method="GET",
        base_url="http://127.0.0.1/v2",
        path="/Users",
        query={"filter": f'userName eq "{user_name}"'},
        headers=headers,
    )
    response = app.serve(request)
    if response.status != HTTPStatus.OK or (response.body or {}).get("totalResults") != 1:
        raise RuntimeError(f"warm-up filter for {user_name} answered {response.status}: {response.body}")


def create_app(token: str | None = None) -> WSGIApplication:
    """Build the scim2-server WSGI app over a fresh in-memory storage."""
    if not token:
        return WSGIApplication(InMemoryStorage(), load_default_provider())
    # Built like the scim2-server command does: announcing the bearer scheme
    # makes its 401 responses carry WWW-Authenticate.
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    return BearerTokenApplication(InMemoryStorage(), provider, bearer_tokens=[token])


def _app_from_env() -> WSGIApplication:
    """Build and seed the module-level app from the PEER_* environment."""
    token = os.environ.get("PEER_BEARER_TOKEN") or None
    application = create_app(token)
    count = int(os.environ.get("PEER_SEED_USERS", "0") or 0)
    if count > 0:
        seeded = seed_users(application, count)
        warm_filter_index(application, seeded[0][1], token)
        ids_file = os.environ.get("PEER_IDS_FILE")
        if ids_file:
            path = Path(ids_file)
            temporary = path.with_suffix(path.suffix + ".tmp")
            temporary.write_text("".join(f"{uid}\t{name}\n" for uid, name in seeded))
            # Renamed into place so a reader never sees a half-written file.
            temporary.replace(path)
        # Tens of thousands of seeded users are hundreds of thousands of
        # objects. Without freezing them, each worker's first full collection
        # after fork walks them all (seconds, and it dirties every
        # copy-on-write page): the usual gc.freeze() before a preload fork.
        gc.collect()
        gc.freeze()
    return application


app = _app_from_env()
