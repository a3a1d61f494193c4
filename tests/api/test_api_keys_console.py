"""Settings > API keys (issue 16): create a key (shown once, stored hashed), revoke it, who may, the Admin log."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Admin, AdminLog, ApiKey, utcnow
from tests.api.conftest import Api, assert_api_error
from tests.conftest import Console
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases

BASE = "/settings/api-keys"
PASSWORD = "another long password"
KEY_RE = re.compile(r'id="api-key-secret" value="(dsp_[0-9a-f]{8}_[A-Za-z0-9_-]{43})"')


def _signed_in(app: Any, email: str) -> Console:
    console = Console(app.test_client())
    assert console.login(email, PASSWORD).status_code == 302
    return console


def _create(console: Console, **form: Any) -> Any:
    data = {"name": "Payroll export", "scopes": ["members:read"], "expiry": "90", **form}
    console.get(f"{BASE}/new")
    return console.post(f"{BASE}/new", data)


def _secret(response: Any) -> str:
    match = KEY_RE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def _keys(app: Any) -> list[ApiKey]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)))
        db.session.expunge_all()
        return rows


def test_the_key_is_shown_once_and_only_its_hash_is_stored(app: Any, console: Console, client: Any) -> None:
    response = _create(console, scopes=["members:read", "events:read"])
    assert response.status_code == 200
    secret = _secret(response)
    assert "shown only once" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    [key] = _keys(app)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(key.prefix + "_") and key.scopes == ["members:read", "events:read"]
    with app.app_context():  # no column of the row holds the secret, nor its random part
        row = db.session.execute(sa.select(ApiKey.__table__)).one()
        assert not any(secret.split("_")[-1] in str(value) for value in row)
    # The list shows the prefix, never the secret; the key works at once.
    listing = console.get(f"{BASE}/").get_data(as_text=True)
    assert key.prefix in listing and secret not in listing and "Payroll export" in listing
    assert Api(client, secret).get("/members").status_code == 200


@pytest.mark.parametrize(("expiry", "days"), [("30", 30), ("90", 90), ("365", 365), ("never", None)])
def test_the_expiry_chosen_is_the_keys(app: Any, console: Console, expiry: str, days: int | None) -> None:
    assert _create(console, expiry=expiry).status_code == 200
    [key] = _keys(app)
    if days is None:
        assert key.expires_at is None
    else:
        assert abs(key.expires_at - (utcnow() + timedelta(days=days))) < timedelta(minutes=5)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "  "}, "Enter a name"),
        ({"name": "x" * 256}, "at most 255"),
        ({"name": "bad\x00name"}, "not allowed"),
        ({"scopes": []}, "at least one scope"),
        ({"scopes": ["members:write"]}, "Unknown scope"),
        ({"expiry": "forever"}, "Choose when the key expires"),
    ],
)
def test_bad_input_is_422_next_to_the_field_and_writes_nothing(
    app: Any, console: Console, form: dict[str, Any], message: str
) -> None:
    response = _create(console, **form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _keys(app) == []
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count(AdminLog.id)).where(AdminLog.event_type == "Create API key")) == 0
        )


def test_revoke_refuses_the_key_and_both_actions_are_in_the_admin_log(
    app: Any, console: Console, client: Any, org: Any
) -> None:
    secret = _secret(_create(console))
    [key] = _keys(app)
    api = Api(client, secret)
    assert api.get("/members").status_code == 200
    response = console.post(f"{BASE}/{key.id}/revoke", htmx=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Revoked" in page and "is revoked" in page and "<html" not in page  # the table, swapped in by htmx
    assert_api_error(api.get("/members"), 401, "unauthorized")
    assert _keys(app)[0].revoked_at is not None
    # Revoking twice is refused without a second entry.
    assert console.post(f"{BASE}/{key.id}/revoke").status_code == 422
    with app.app_context():
        entries = list(db.session.scalars(sa.select(AdminLog).order_by(AdminLog.id)))
        logged = [(e.event_type, e.category, e.actor, e.target_name) for e in entries if "API key" in e.event_type]
        assert logged == [
            ("Create API key", "Settings > API keys", org.email, "Payroll export"),
            ("Revoke API key", "Settings > API keys", org.email, "Payroll export"),
        ]
        created = next(e for e in entries if e.event_type == "Create API key")
        assert created.changes["scopes"] == [None, ["Read members"]] and created.changes["prefix"][1] == key.prefix
        assert not any(secret in str(e.changes) + str(e.summary) for e in entries)


def test_another_organizations_key_is_not_found_and_stays_usable(app: Any, console: Console, client: Any) -> None:
    from tests.api.conftest import issue_key

    other = make_org(app, name="Globex", email="owner@globex.test")
    secret = issue_key(app, other)
    [key] = _keys(app)
    assert console.post(f"{BASE}/{key.id}/revoke").status_code == 404
    assert _keys(app)[0].revoked_at is None
    assert Api(client, secret).get("/members").status_code == 200
    assert "svc" not in console.get(f"{BASE}/").get_data(as_text=True)


def test_only_the_primary_and_api_keys_administrators_open_the_page(app: Any, org: Any, console: Console) -> None:
    make_admin(app, org, "log@acme.test", {"admin_log", "directory", "org_data_sync"})
    make_admin(app, org, "keys@acme.test", {"api_keys"})
    others = _signed_in(app, "log@acme.test")
    for response in (others.get(f"{BASE}/"), others.get(f"{BASE}/new"), others.post(f"{BASE}/new", {"name": "x"})):
        assert response.status_code == 403
    assert "API keys" not in others.get("/settings/directory-sync/").get_data(as_text=True)
    keys_admin = _signed_in(app, "keys@acme.test")
    home = keys_admin.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith(f"{BASE}/")
    assert 'href="/settings/api-keys/"' in keys_admin.get(f"{BASE}/").get_data(as_text=True)
    assert _create(keys_admin).status_code == 200
    assert 'href="/settings/api-keys/"' in console.get(f"{BASE}/").get_data(as_text=True)


def test_the_permission_is_granted_on_the_administrators_page(app: Any, org: Any, console: Console) -> None:
    admin_id = make_admin(app, org, "sam@acme.test", {"admin_log"})
    page = console.get(f"/settings/administrators/{admin_id}").get_data(as_text=True)
    assert 'value="api_keys"' in page and "API keys" in page
    response = console.post(
        f"/settings/administrators/{admin_id}/permissions", {"permissions": ["admin_log", "api_keys"]}
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Admin, admin_id).perm_api_keys is True
        entry = db.session.scalar(sa.select(AdminLog).where(AdminLog.event_type == "Edit administrator permissions"))
        assert "API keys" in entry.changes["permissions"][1]
    assert _signed_in(app, "sam@acme.test").get(f"{BASE}/").status_code == 200
