"""Settings > Webhooks in the console: who may open it, adding an endpoint, the secret shown once,
rotate, disable, enable, edit and delete, each with its Admin log entry (issue 16)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import EVENT_TYPES, AdminLog, WebhookEndpoint
from tests.conftest import Console
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")


def _signed_in(app: Any, email: str, password: str = "another long password") -> Console:
    console = Console(app.test_client())
    assert console.login(email, password).status_code == 302
    return console


def _add(console: Console, url: str = "https://hooks.example.com/dsp", types: list[str] | None = None) -> Any:
    return console.post(
        "/settings/webhooks/new",
        {
            "url": url,
            "description": "Payroll",
            "event_types": ["member.created", "member.deleted"] if types is None else types,
        },
    )


def _endpoint(app: Any) -> WebhookEndpoint:
    with app.app_context():
        found = db.session.scalar(select(WebhookEndpoint))
        assert found is not None
        db.session.expunge(found)
        return found


def _admin_log(app: Any) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AdminLog).where(AdminLog.category == "Settings > Webhooks").order_by(AdminLog.id)
        )
        return [(r.event_type, r.target_name) for r in rows]


def test_the_primary_and_api_keys_admins_open_it_others_get_403(app: Any, console: Console, org: Any) -> None:
    make_admin(app, org, "keys@acme.test", {"api_keys"})
    make_admin(app, org, "sync@acme.test", {"org_data_sync", "directory", "admin_log"})
    assert console.get("/settings/webhooks/").status_code == 200
    assert 'href="/settings/webhooks/"' in console.get("/organization/members").get_data(as_text=True)
    keys = _signed_in(app, "keys@acme.test")
    assert keys.get("/settings/webhooks/").status_code == 200
    sync = _signed_in(app, "sync@acme.test")
    assert sync.get("/settings/webhooks/").status_code == 403
    assert (
        sync.post("/settings/webhooks/new", {"url": "https://x.example", "event_types": ["member.created"]}).status_code
        == 403
    )
    assert 'href="/settings/webhooks/"' not in sync.get("/organization/members").get_data(as_text=True)


def test_adding_an_endpoint_shows_its_secret_once(app: Any, console: Console, org: Any) -> None:
    added = _add(console)
    assert added.status_code == 200
    shown = SECRET.findall(added.get_data(as_text=True))
    endpoint = _endpoint(app)
    assert shown == [endpoint.secret]
    assert endpoint.event_types == ["member.created", "member.deleted"] and endpoint.enabled
    detail = console.get(f"/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    assert endpoint.secret not in detail and "whsec_" not in detail
    assert endpoint.secret not in console.get("/settings/webhooks/").get_data(as_text=True)
    assert _admin_log(app) == [("Add webhook endpoint", "https://hooks.example.com/dsp")]
    with app.app_context():
        entry = db.session.scalar(select(AdminLog).where(AdminLog.event_type == "Add webhook endpoint"))
        assert endpoint.secret not in str(entry.changes) and endpoint.secret not in (entry.summary or "")


@pytest.mark.parametrize(
    ("url", "types", "message"),
    [
        ("", ["member.created"], "Enter the endpoint&#39;s URL"),
        ("ftp://hooks.example.com", ["member.created"], "http:// or https:// URL"),
        ("https://user:pw@hooks.example.com", ["member.created"], "Leave credentials out"),
        ("https://hooks.example.com", [], "Choose at least one event type"),
        ("https://hooks.example.com", ["member.exploded"], "Unknown event type"),
        ("https://hooks.example.com/\x00", ["member.created"], "The URL"),
    ],
)
def test_a_bad_endpoint_is_refused_with_a_message_and_nothing_written(
    app: Any, console: Console, org: Any, url: str, types: list[str], message: str
) -> None:
    refused = _add(console, url, types)
    assert refused.status_code == 422
    assert message in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(WebhookEndpoint.id)) is None
    assert _admin_log(app) == []


def test_production_requires_https_development_takes_http(app: Any, console: Console, org: Any) -> None:
    app.config["PORTAL_ENV"] = "production"
    refused = _add(console, "http://hooks.example.com/dsp")
    assert refused.status_code == 422 and "Enter an https:// URL" in refused.get_data(as_text=True)
    assert _add(console, "https://hooks.example.com/dsp").status_code == 200
    app.config["PORTAL_ENV"] = "development"
    assert _add(console, "http://127.0.0.1:8080/hook").status_code == 200


def test_rotate_disable_enable_edit_delete_each_leave_an_admin_log_entry(app: Any, console: Console, org: Any) -> None:
    _add(console)
    endpoint = _endpoint(app)
    rotated = console.post(f"/settings/webhooks/{endpoint.id}/rotate")
    new_secret = SECRET.findall(rotated.get_data(as_text=True))
    after = _endpoint(app)
    assert new_secret == [after.secret] and after.previous_secret == endpoint.secret
    assert "two signatures" in rotated.get_data(as_text=True)
    disabled = console.post(f"/settings/webhooks/{endpoint.id}/disable", htmx=True)
    assert disabled.status_code == 200 and "Enable endpoint" in disabled.get_data(as_text=True)
    assert not _endpoint(app).enabled
    assert console.post(f"/settings/webhooks/{endpoint.id}/enable", htmx=True).status_code == 200
    assert _endpoint(app).enabled
    edited = console.post(
        f"/settings/webhooks/{endpoint.id}/edit",
        {"url": "https://hooks.example.com/v2", "description": "Payroll", "event_types": list(EVENT_TYPES)},
        htmx=True,
    )
    assert edited.status_code == 200 and "Saved." in edited.get_data(as_text=True)
    assert _endpoint(app).event_types == list(EVENT_TYPES)
    bad = console.post(
        f"/settings/webhooks/{endpoint.id}/edit", {"url": "https://x.example", "event_types": []}, htmx=True
    )
    assert bad.status_code == 422 and _endpoint(app).url == "https://hooks.example.com/v2"
    assert console.post(f"/settings/webhooks/{endpoint.id}/delete").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(WebhookEndpoint.id)) is None
    assert [event for event, _ in _admin_log(app)] == [
        "Add webhook endpoint",
        "Rotate webhook secret",
        "Disable webhook endpoint",
        "Enable webhook endpoint",
        "Edit webhook endpoint",
        "Delete webhook endpoint",
    ]


def test_another_organizations_endpoint_is_a_404(app: Any, console: Console, org: Any) -> None:
    from tests.factories import make_org

    other = make_org(app, "Globex", "owner@globex.test")
    theirs = _signed_in(app, other.email, other.password)
    _add(theirs)
    endpoint = _endpoint(app)
    for path in ("", "/rotate", "/disable", "/delete", "/resend"):
        method = console.get if not path else console.post
        assert method(f"/settings/webhooks/{endpoint.id}{path}").status_code == 404, path
    assert _endpoint(app).secret == endpoint.secret and _endpoint(app).enabled
