"""Seed a SCIM server over HTTP and write the ids file the Lua scripts read.

Targets whose storage is shared between gunicorn workers (the app, on its
database) are seeded this way after they start; see ``runner.Target.seed``.
The users are the same JumpCloud-shaped documents the create script sends,
named ``user1..userN@acme.com`` so the filter script finds them.
"""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.scim_payloads import DEFAULT_USERNAME_FORMAT, jumpcloud_user


class SeedError(RuntimeError):
    """The server refused a seed request."""


def _post_users(
    base_url: str, scim_base: str, token: str | None, numbers: list[int], username_format: str
) -> list[tuple[int, str, str]]:
    """POST the users ``numbers`` on one connection; return (n, id, userName) each."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/scim+json", "Accept": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    created = []
    try:
        for n in numbers:
            connection.request(
                "POST", f"{scim_base.rstrip('/')}/Users", json.dumps(jumpcloud_user(n, username_format)), headers
            )
            response = connection.getresponse()
            body: Any = response.read()
            if response.status != 201:
                raise SeedError(f"POST user {n} answered {response.status}: {body[:300]!r}")
            document = json.loads(body)
            created.append((n, document["id"], document["userName"]))
    finally:
        connection.close()
    return created


def seed_users_http(
    base_url: str,
    scim_base: str,
    count: int,
    ids_path: Path,
    token: str | None = None,
    first: int = 1,
    username_format: str = DEFAULT_USERNAME_FORMAT,
    parallel: int = 4,
) -> int:
    """Create users ``first..first+count-1`` over HTTP; write "id<TAB>userName" lines.

    ``parallel`` connections share the work so seeding a few thousand users
    stays short; the ids file lists users in number order either way.
    Returns the number of users created.
    """
    numbers = list(range(first, first + count))
    chunks = [numbers[i::parallel] for i in range(max(1, parallel))]
    lock = threading.Lock()
    created: list[tuple[int, str, str]] = []

    def work(chunk: list[int]) -> None:
        result = _post_users(base_url, scim_base, token, chunk, username_format)
        with lock:
            created.extend(result)

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks if chunk]:
            future.result()
    created.sort()
    ids_path.write_text("".join(f"{uid}\t{name}\n" for _, uid, name in created))
    return len(created)
