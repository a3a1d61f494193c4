"""No password reaches the Sync log, however a request spells it (issue 12 item 4; RFC 7643 §4.1.1; RFC 7644 §3.5.2).

RFC 7643 §4.1.1: ``password`` is writeOnly and never returned. This service provider stores no
password, but it keeps each request's body in the Sync log (the Details drawer's "Request body").
The PATCH parser reads keys in any case, paths stripped and with their schema URN
(RFC 7644 §3.10); the redaction reads them the same way (``portal.core.scim_urns.split_urn``),
in a body of any method and at any depth.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import SyncLog, SyncSource
from tests.conftest import Console
from tests.scim.conftest import PATCH_SCHEMA, USER_SCHEMA, Scim, user

pytestmark = pytest.mark.both_databases

SECRET = "Hunter2-Secret-Value"
CORE_PASSWORD = USER_SCHEMA + ":password"

#: PATCH operations that set a password, as identity providers and attackers spell them
PATCH_VARIANTS = {
    "Path capitalised": {"op": "replace", "Path": "password", "value": SECRET},
    "Value capitalised": {"op": "replace", "path": "password", "Value": SECRET},
    "PATH and VALUE": {"op": "Replace", "PATH": "Password", "VALUE": SECRET},
    "path with a trailing space": {"op": "replace", "path": "password ", "value": SECRET},
    "path-less value PASSWORD": {"op": "replace", "value": {"PASSWORD": SECRET}},
    "path-less value with a spaced key": {"op": "replace", "value": {" Password ": SECRET}},
    "urn-qualified path": {"op": "replace", "path": CORE_PASSWORD, "value": SECRET},
    "urn-qualified path, other case": {"op": "replace", "path": CORE_PASSWORD.upper(), "value": SECRET},
    "urn-qualified key of a path-less value": {"op": "replace", "value": {CORE_PASSWORD: SECRET}},
    "the core schema's path, password inside": {"op": "replace", "path": USER_SCHEMA, "value": {"password": SECRET}},
    "add": {"op": "add", "path": "password", "value": SECRET},
    "a duplicate path key": {"op": "replace", "path": "displayName", "Path": "password", "value": SECRET},
    "a filter on password": {"op": "replace", "path": 'password[value eq "x"]', "value": SECRET},
}


def _source_pk(app: Any, public_id: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == public_id))


def _rows(app: Any) -> list[tuple[int, int, Any]]:
    """(id, status, stored body) of every Sync log row."""
    with app.app_context():
        return [
            (r.id, r.status_code, r.request_body) for r in db.session.scalars(sa.select(SyncLog).order_by(SyncLog.id))
        ]


def _assert_nowhere(app: Any, console: Console, scim: Scim) -> None:
    """Neither a stored body nor the console's Details drawer (or page) holds the secret."""
    rows = _rows(app)
    assert rows
    source = _source_pk(app, scim.source.id)
    for log_id, _status, body in rows:
        assert SECRET.lower() not in json.dumps(body).lower()
        for htmx in (True, False):
            response = console.get(f"/settings/directory-sync/{source}/sync-log/{log_id}", htmx=htmx)
            assert response.status_code == 200
            html = response.get_data(as_text=True)
            assert "Request body" in html and SECRET.lower() not in html.lower()


@pytest.mark.parametrize("operation", PATCH_VARIANTS.values(), ids=PATCH_VARIANTS.keys())
def test_a_patch_setting_a_password_in_any_spelling_is_redacted_rfc7644_3_5_2(
    app: Any, console: Console, scim: Scim, operation: dict[str, Any]
) -> None:
    member = scim.create_user()
    response = scim.patch(f"/Users/{member['id']}", {"schemas": [PATCH_SCHEMA], "Operations": [operation]})
    # Accepted or refused, the request leaves a row with its body (RFC 7644 §3.12 for a refusal).
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert SECRET not in response.get_data(as_text=True)  # writeOnly: never returned (RFC 7643 §4.1.1)
    (_id, status, body) = _rows(app)[-1]
    assert status == response.status_code
    assert body["Operations"][0]["op"] == operation["op"]  # the rest of the body is kept
    _assert_nowhere(app, console, scim)


@pytest.mark.parametrize(
    "extra",
    [
        {"password": SECRET},
        {"Password": SECRET},
        {" PASSWORD ": SECRET},
        {CORE_PASSWORD: SECRET},
        {USER_SCHEMA: {"password": SECRET}},
        {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"password": SECRET}},
        {"name": {"givenName": "Ann", "password": SECRET}},
        {"phoneNumbers": [{"value": "+1 555 0100", "type": "mobile", "Password": SECRET}]},
    ],
    ids=[
        "plain",
        "capitalised",
        "spaced",
        "urn-qualified",
        "under the core urn",
        "under the extension",
        "nested",
        "in a list",
    ],
)
def test_post_and_put_bodies_lose_their_password_at_any_depth_rfc7643_4_1_1(
    app: Any, console: Console, scim: Scim, extra: dict[str, Any]
) -> None:
    created = scim.post("/Users", user(**extra))
    assert created.status_code in (201, 400), created.get_data(as_text=True)
    member = scim.create_user("bob@acme.test")
    replaced = scim.put(f"/Users/{member['id']}", user("bob@acme.test", **extra))
    assert replaced.status_code in (200, 400), replaced.get_data(as_text=True)
    bodies = [body for _id, _status, body in _rows(app)]
    assert [body.get("userName") for body in bodies] == ["ann@acme.test", "bob@acme.test", "bob@acme.test"]
    _assert_nowhere(app, console, scim)


def test_a_refused_patch_with_a_password_is_redacted_too_rfc7644_3_12(app: Any, console: Console, scim: Scim) -> None:
    """A body the parser refuses (an unknown op) is logged with the failure: still without the password."""
    member = scim.create_user()
    response = scim.patch(
        f"/Users/{member['id']}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "merge", "path": " PassWord", "VALUE": SECRET}]},
    )
    assert response.status_code == 400
    assert _rows(app)[-1][1] == 400
    _assert_nowhere(app, console, scim)
