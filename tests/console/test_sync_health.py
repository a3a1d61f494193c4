"""Sync health an administrator can trust and see (issue 13, section 1).

The Sync App card after activation, what the card shows, the details page's charts
and the figures behind them, the setup guides' order, the Sync log's page, refused
requests and failed PATCHes, and the notifications' times and causes.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.core import notifications, sync_log, sync_stats
from portal.extensions import db
from portal.models import Admin, Notification, SyncLog, SyncSource, utcnow
from tests.conftest import Console
from tests.directory_support import log_sync, make_source_with_token, sync_member

pytestmark = pytest.mark.both_databases

BASE = "/settings/directory-sync"
TOKEN_RE = re.compile(r'id="scim-token" value="([^"]+)"')
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


# ---------------------------------------------------------------- helpers


def add_draft(app: Any, console: Console, provider: str = "jumpcloud") -> tuple[int, str, str]:
    """Add sync source > provider in the console: the draft's id, SCIM id and token."""
    response = console.post(f"{BASE}/new", {"provider": provider})
    assert response.status_code == 200
    source_id = int(re.search(r"/(\d+)/setup\?step=1$", response.headers["HX-Push-Url"]).group(1))
    with app.app_context():
        public_id = db.session.get(SyncSource, source_id).public_id
    return source_id, public_id, TOKEN_RE.search(response.get_data(as_text=True)).group(1)


def scim(app: Any, public_id: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """One SCIM request as an identity provider sends it."""
    return app.test_client().open(
        f"/scim/v2/{public_id}{path}",
        method=method,
        data=json.dumps(body) if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )


def card(console: Console, source_id: int) -> str:
    """The source's Sync App card on the Directory Sync page."""
    page = console.get(f"{BASE}/").get_data(as_text=True)
    return re.search(rf'<article[^>]*id="source-{source_id}".*?</article>', page, re.S).group(0)


def field(html: str, testid: str) -> str:
    """The text of a card figure (tags removed, spaces folded)."""
    raw = re.search(rf'data-testid="{testid}">(.*?)</dd>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", raw).split())


def add_log(app: Any, source_id: int, at: datetime, **values: Any) -> None:
    """A Sync log row of the source (defaults: a member created successfully)."""
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        row = {
            "org_id": source.org_id,
            "source_id": source_id,
            "created_at": at,
            "operation": "create",
            "object_type": "member",
            "object_name": "ada@acme.test",
            "result": "success",
            "status_code": 201,
            "changes": {},
            "associated": [],
            "notes": [],
            "method": "POST",
            "path": "/Users",
            "request_body": {},
        }
        row.update(values)
        if row["status_code"] >= 400:
            row["result"] = "failure"
        db.session.add(SyncLog(**row))
        db.session.commit()


def log_rows(html: str) -> list[str]:
    """The Sync log table's rows, as text."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# ---------------------------------------------------------------- the card after activation


def test_save_and_activate_clears_the_not_activated_failure_from_the_card(app, console):
    source_id, public_id, token = add_draft(app, console)
    assert scim(app, public_id, token, "GET", "/Users").status_code == 403
    before = card(console, source_id)
    assert ">Failing<" in before and "sync source is not activated" in before

    response = console.post(f"{BASE}/{source_id}/setup", {"step": 4, "nav": "activate"})
    assert response.status_code == 303

    after = card(console, source_id)
    assert ">Active<" in after
    assert ">Failing<" not in after and "sync source is not activated" not in after.split("app-card-meta")[0]
    assert "Waiting for next request" in after
    # The refusal is history, not forgotten: the card names it as the last failure.
    assert "HTTP 403" in field(after, "last-failure")

    assert scim(app, public_id, token, "GET", "/Users").status_code == 200
    assert ">Connected<" in card(console, source_id)


def test_reactivating_clears_the_failure_the_deactivated_source_left(app, console, org):
    source_id, public_id, token = make_source_with_token(app, org.id)
    assert console.post(f"{BASE}/{source_id}/deactivate").status_code == 303
    assert scim(app, public_id, token, "GET", "/Users").status_code == 403
    assert ">Failing<" in card(console, source_id)

    fragment = console.post(f"{BASE}/{source_id}/activate", htmx=True).get_data(as_text=True)
    assert ">Active<" in fragment and ">Failing<" not in fragment and "Waiting for next request" in fragment
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        assert (source.last_status, source.last_error) == (None, None)


def test_activating_keeps_a_connected_source_connected(app, console, org):
    source_id, public_id, token = make_source_with_token(app, org.id)
    assert scim(app, public_id, token, "GET", "/Users").status_code == 200
    console.post(f"{BASE}/{source_id}/deactivate")
    console.post(f"{BASE}/{source_id}/activate")
    assert ">Connected<" in card(console, source_id)


# ---------------------------------------------------------------- what the card shows


def test_each_card_names_its_source_and_shows_its_health(app, console, org):
    jumpcloud, jumpcloud_scim, _ = make_source_with_token(app, org.id, name="JumpCloud staff")
    okta, okta_scim, _ = make_source_with_token(app, org.id, name="Okta contractors", provider="okta")
    now = utcnow()
    success_at = now - timedelta(hours=2)
    with app.app_context():
        db.session.get(SyncSource, jumpcloud).last_success_at = success_at
        db.session.commit()
    sync_member(app, org.id, jumpcloud, "ada@acme.test", "Ada Lovelace")
    sync_member(app, org.id, jumpcloud, "alan@acme.test", "Alan Turing")
    add_log(app, jumpcloud, now - timedelta(hours=1), operation="update", status_code=400, error_detail="bad")
    add_log(app, jumpcloud, now - timedelta(hours=30), operation="update", status_code=400)  # over 24 hours ago
    # A folded refusal: one row standing for three requests, the last of them 5 minutes ago.
    add_log(
        app,
        jumpcloud,
        now - timedelta(minutes=8),
        operation="request",
        object_type=None,
        status_code=401,
        repeat_count=3,
        last_seen_at=now - timedelta(minutes=5),
    )

    first = card(console, jumpcloud)
    assert "JumpCloud staff" in first
    assert 'src="/static/img/providers/jumpcloud.svg"' in first
    assert f"…{jumpcloud_scim[-12:]}" in first and f"/scim/v2/{jumpcloud_scim}" in first
    assert field(first, "last-success") == success_at.strftime("%b %d, %Y %H:%M UTC")
    assert field(first, "last-failure") == (now - timedelta(minutes=5)).strftime("%b %d, %Y %H:%M UTC · HTTP 401")
    assert field(first, "failures-24h").startswith("4 failed requests")
    assert field(first, "members-synced") == "2"

    second = card(console, okta)
    assert "Okta contractors" in second and 'src="/static/img/providers/okta.svg"' in second
    assert f"…{okta_scim[-12:]}" in second
    assert (field(second, "last-success"), field(second, "last-failure")) == ("None yet", "None in the last 7 days")
    assert field(second, "failures-24h").startswith("None") and field(second, "members-synced") == "0"

    # The count links to the Sync log filtered to the failures it counts.
    link = re.search(r'data-testid="failures-24h">\s*<a class="health-failures" href="([^"]+)"', first).group(1)
    link = link.replace("&amp;", "&")
    assert "result=failure" in link and "start=" in link
    rows = log_rows(console.get(link).get_data(as_text=True))
    assert len(rows) == 2 and all("Failed" in row for row in rows)


def test_provider_marks_are_served(client):
    for provider in ("jumpcloud", "okta", "entra", "generic"):
        response = client.get(f"/static/img/providers/{provider}.svg")
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert b"<title>" in response.data


# ---------------------------------------------------------------- chart figures

NOW = datetime(2026, 3, 9, 10, 30)


def test_chart_figures_are_grouped_by_hour_and_day_from_the_sync_log(app, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    other_id, _, _ = make_source_with_token(app, org.id, name="Okta", provider="okta")
    rows = [
        (datetime(2026, 3, 9, 10, 5), {}),  # this hour: a member created
        (datetime(2026, 3, 9, 10, 20), {"object_type": "group"}),  # a group created: a request, no member
        (datetime(2026, 3, 9, 9, 59, 59), {"operation": "update", "status_code": 400}),
        (
            datetime(2026, 3, 9, 9, 10),
            {"operation": "request", "object_type": None, "status_code": 401, "repeat_count": 3},
        ),
        (datetime(2026, 3, 8, 11, 0), {"operation": "update", "status_code": 200}),  # the first hour shown
        (datetime(2026, 3, 8, 10, 59), {"operation": "deactivate", "status_code": 200}),  # before it: days only
        (datetime(2026, 3, 3, 0, 0), {}),  # the first day shown
        (datetime(2026, 3, 2, 23, 59), {}),  # before it
        (datetime(2026, 3, 9, 11, 0), {}),  # after now
    ]
    for at, values in rows:
        add_log(app, source_id, at, **values)
    add_log(app, other_id, datetime(2026, 3, 9, 10, 6))

    with app.app_context():
        charts = sync_stats.charts(org.id, source_id, NOW)

    assert len(charts.hourly) == 24 and len(charts.daily) == 7 and len(charts.members) == 7
    assert charts.hourly[0].start == datetime(2026, 3, 8, 11) and charts.hourly[-1].start == datetime(2026, 3, 9, 10)
    assert (charts.hourly[-1].success, charts.hourly[-1].failure) == (2, 0)
    assert (charts.hourly[-2].success, charts.hourly[-2].failure) == (0, 4)
    assert (charts.hourly[0].success, charts.hourly[0].failure) == (1, 0)
    assert sum(b.total for b in charts.hourly) == 7

    assert [d.start.day for d in charts.daily] == [3, 4, 5, 6, 7, 8, 9]
    assert [(d.success, d.failure) for d in charts.daily] == [(1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (2, 0), (2, 4)]
    assert [(m.created, m.updated, m.suspended) for m in charts.members] == [
        (1, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
        (0, 1, 1),
        (1, 0, 0),
    ]


def test_card_figures_count_24_hours_and_look_back_7_days_for_the_last_failure(app, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    add_log(app, source_id, NOW - timedelta(hours=23), status_code=409)
    add_log(app, source_id, NOW - timedelta(hours=25), status_code=409)
    add_log(app, source_id, NOW - timedelta(days=8), status_code=500)
    with app.app_context():
        health = sync_stats.health(org.id, [source_id], NOW)[source_id]
        assert health.failures_24h == 1
        assert health.failures_since == NOW - timedelta(hours=24)
        assert health.last_failure is not None and health.last_failure.at == NOW - timedelta(hours=23)
        assert sync_stats.last_failure(org.id, source_id, NOW + timedelta(days=7)) is None


# ---------------------------------------------------------------- charts on the details page


def test_details_page_draws_three_accessible_charts(app, console, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    now = utcnow()
    add_log(app, source_id, now - timedelta(minutes=1))
    add_log(app, source_id, now - timedelta(minutes=2), operation="update", status_code=400)
    add_log(app, source_id, now - timedelta(days=2), operation="deactivate", status_code=200)

    page = console.get(f"{BASE}/{source_id}").get_data(as_text=True)
    assert page.count('<svg class="chart-svg"') == 3 and page.count('role="img"') >= 3
    assert '<title id="chart-hourly-title">Requests per hour, last 24 hours (UTC)</title>' in page
    assert '<title id="chart-daily-title">Requests per day, last 7 days (UTC)</title>' in page
    assert '<title id="chart-members-title">Members created, updated and suspended per day</title>' in page
    assert "2 requests in the last 24 hours: 1 succeeded, 1 failed." in page
    assert "3 requests in the last 7 days: 2 succeeded, 1 failed." in page
    assert "In the last 7 days: 1 members created, 0 updated and 1 suspended." in page
    # The figures as a table for screen readers: today's row has 1 succeeded and 1 failed.
    today = now.strftime("%a, %b %d")
    assert re.search(rf"<th scope=\"row\">{today}</th><td>1</td><td>1</td>", page)
    # Bars are drawn: a green one and a red one at least.
    assert 'class="chart-bar chart-success"' in page and 'class="chart-bar chart-failure"' in page
    assert "Sync health" in page and "1 failed request" in page


def test_details_page_of_a_source_without_requests_says_so(app, console, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    page = console.get(f"{BASE}/{source_id}").get_data(as_text=True)
    assert "No requests in the last 24 hours." in page and "Nothing in this period" in page


# ---------------------------------------------------------------- the guides state the order


@pytest.mark.parametrize(
    "provider, test_step",
    [("jumpcloud", "test the connection"), ("entra", "Test Connection"), ("okta", "Test Connector Configuration")],
)
def test_the_connection_test_step_says_to_save_and_activate_first(app, console, provider, test_step):
    source_id, _, _ = add_draft(app, console, provider)
    page = console.get(f"{BASE}/{source_id}/setup?step=1").get_data(as_text=True)
    steps = re.findall(r"<li>(.*?)</li>", re.search(r'<ol class="guide-steps">(.*?)</ol>', page, re.S).group(1), re.S)
    testing = [step for step in steps if test_step in step]
    assert testing, steps
    text = " ".join(re.sub(r"<[^>]+>", " ", testing[0]).split())
    assert "finish this wizard with Save and Activate" in text
    assert "sync source is not activated" in text


# ---------------------------------------------------------------- the Sync log


def test_refused_requests_have_their_own_operation_filter(app, console, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    at = utcnow() - timedelta(hours=1)
    add_log(app, source_id, at, object_name="created@acme.test")
    add_log(app, source_id, at, operation="request", object_type=None, object_name="read@acme.test", status_code=404)
    for minutes, status in ((1, 401), (2, 403), (3, 429)):
        add_log(
            app, source_id, at + timedelta(minutes=minutes), operation="request", object_type=None, status_code=status
        )

    page = console.get(f"{BASE}/{source_id}/sync-log").get_data(as_text=True)
    assert '<option value="refused">Refused request</option>' in page

    refused = console.get(f"{BASE}/{source_id}/sync-log?operation=refused").get_data(as_text=True)
    rows = log_rows(refused)
    assert len(rows) == 3 and all("Refused request" in row for row in rows)
    assert [re.search(r"Failed · (\d+)", row).group(1) for row in rows] == ["429", "403", "401"]
    assert '<option value="refused" selected>Refused request</option>' in refused


def test_the_page_number_is_in_the_url_and_a_reload_keeps_it(app, console, org):
    source_id, _, _ = make_source_with_token(app, org.id)
    start = utcnow() - timedelta(hours=2)
    for n in range(30):
        add_log(app, source_id, start + timedelta(minutes=n), object_name=f"user{n:02}@acme.test")

    first = console.get(f"{BASE}/{source_id}/sync-log").get_data(as_text=True)
    footer = re.search(r'<div class="table-footer"[^>]*>', first).group(0)
    assert 'hx-push-url="true"' in footer and 'hx-boost="true"' in footer
    assert f'href="{BASE}/{source_id}/sync-log?page=2"' in first

    second = console.get(f"{BASE}/{source_id}/sync-log?page=2").get_data(as_text=True)
    assert re.search(r'aria-current="page" aria-label="Page 2, current page"', second)
    names = [re.search(r"user\d\d@acme\.test", row).group(0) for row in log_rows(second)]
    assert names == [f"user{n:02}@acme.test" for n in range(4, -1, -1)]


def test_a_failed_patch_shows_its_object_from_the_url(app, console, org):
    source_id, public_id, token = make_source_with_token(app, org.id)
    ada = {
        "schemas": [USER],
        "userName": "ada@acme.test",
        "displayName": "Ada",
        "emails": [{"value": "ada@acme.test", "type": "work"}],
    }
    created = scim(app, public_id, token, "POST", "/Users", ada)
    assert created.status_code == 201
    member_id = created.get_json()["id"]
    # RFC 7644 §3.5.2: "op" must be add, remove or replace; the request fails before the member is read.
    bad = {"schemas": [PATCH_OP], "Operations": [{"op": "bogus"}]}
    assert scim(app, public_id, token, "PATCH", f"/Users/{member_id}", bad).status_code == 400
    # A body over the limit is refused before any view reads the URL (413).
    huge = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "x" * (1024 * 1024)}]}
    assert scim(app, public_id, token, "PATCH", "/Users/big-0001", huge).status_code == 413
    assert scim(app, public_id, token, "PATCH", "/Groups/group-0001", bad).status_code in (400, 404)

    rows = log_rows(console.get(f"{BASE}/{source_id}/sync-log?result=failure").get_data(as_text=True))
    assert any(member_id in row and "Member" in row for row in rows), rows
    assert any("big-0001" in row and "Member" in row for row in rows), rows
    assert any("group-0001" in row and "Group" in row for row in rows), rows

    found = console.get(f"{BASE}/{source_id}/sync-log?q=big-0001").get_data(as_text=True)
    assert len(log_rows(found)) == 1


@pytest.mark.both_databases
def test_a_short_search_never_matches_inside_an_object_s_id(app, console, org):
    # Ids are random hex: "ada" must find Ada, not every id that happens to hold "ada".
    source_id, _, _ = make_source_with_token(app, org.id)
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        log_sync(source, "create", object_id="0192ada0-0000-7000-8000-000000000001", object_name="grace@acme.test")
        log_sync(source, "create", object_id="0192ffff-0000-7000-8000-000000000002", object_name="ada@acme.test")
        db.session.commit()
    found = log_rows(console.get(f"{BASE}/{source_id}/sync-log?q=ada").get_data(as_text=True))
    assert len(found) == 1 and "ada@acme.test" in found[0]
    # From 8 characters on, the start of an id finds its row.
    found = log_rows(console.get(f"{BASE}/{source_id}/sync-log?q=0192ada0").get_data(as_text=True))
    assert len(found) == 1 and "grace@acme.test" in found[0]


def test_the_object_a_url_names():
    assert sync_log.object_in_path("/scim/v2/abc/Users/0192-ab") == ("member", "0192-ab")
    assert sync_log.object_in_path("/scim/v2/abc/Groups/g1/") == ("group", "g1")
    assert sync_log.object_in_path("/scim/v2/abc/Users") is None
    assert sync_log.object_in_path("/scim/v2/abc/Users/" + "x" * 37) is None
    assert sync_log.object_in_path(None) is None


# ---------------------------------------------------------------- notifications


def test_mark_all_as_read_keeps_each_notifications_time(app, org, console):
    source_id, _, _ = make_source_with_token(app, org.id, notified_admin_ids=[org.admin_id])
    times = [datetime(2026, 3, 1, 8, 0), datetime(2026, 3, 2, 9, 30)]
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for n, at in enumerate(times):
            note = notifications.sync_failure(source, f"kind{n}", f"cause {n}")[0]
            note.created_at = note.updated_at = at
        db.session.commit()

    response = console.post("/notifications/read", htmx=True)
    assert response.status_code == 200
    listing = response.get_data(as_text=True)
    assert "2026-03-01 08:00 UTC" in listing and "2026-03-02 09:30 UTC" in listing
    with app.app_context():
        rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        assert [row.updated_at for row in rows] == times
        assert all(row.read_at is not None for row in rows)


def test_a_folded_notification_lists_each_cause_with_its_count(app, org, console):
    source_id, _, _ = make_source_with_token(app, org.id, notified_admin_ids=[org.admin_id])
    causes = ["displayName is required", "userName is required", "displayName is required"]
    causes += ["displayName is required", "The work email\nis invalid", "userName is required"]
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for cause in causes:
            notifications.sync_failure(source, "invalidValue", cause)
            db.session.commit()

    listing = console.get("/notifications/").get_data(as_text=True)
    assert "×6" in listing
    items = [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li><span class=\"cause-count\">(.*?)</li>", listing, re.S)
    ]
    assert items == ["×3 displayName is required", "×2 userName is required", "×1 The work email is invalid"]


def test_a_notification_seen_once_shows_its_cause_as_sent(app, org, console):
    source_id, _, _ = make_source_with_token(app, org.id, notified_admin_ids=[org.admin_id])
    with app.app_context():
        notifications.sync_failure(db.session.get(SyncSource, source_id), "invalidValue", "displayName is required")
        db.session.commit()
    listing = console.get("/notifications/").get_data(as_text=True)
    assert '<p class="notification-body">displayName is required</p>' in listing
    assert "notification-causes" not in listing


def test_causes_past_the_limit_are_counted_together(app, org):
    with app.app_context():
        admin = db.session.get(Admin, org.admin_id)
        for n in range(notifications.MAX_CAUSES + 3):
            notifications.send(org.id, [admin], kind="sync_failure", group_key="k", title="t", body=f"cause {n}")
        db.session.commit()
        note = db.session.scalar(select(Notification))
        listed = notifications.causes(note.body)
    assert note.count == notifications.MAX_CAUSES + 3
    assert len(listed) == notifications.MAX_CAUSES + 1
    assert listed[-1] == (notifications.OTHER_CAUSES, 3)
    assert sum(count for _cause, count in listed) == note.count


def test_concurrent_folds_keep_every_cause_and_count(app, org):
    with app.app_context():
        admin = db.session.get(Admin, org.admin_id)
        notifications.send(org.id, [admin], kind="sync_failure", group_key="k", title="t", body="first")
        db.session.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def fold(cause: str) -> None:
        try:
            with app.app_context():
                admin = db.session.get(Admin, org.admin_id)
                barrier.wait(timeout=5)
                notifications.send(org.id, [admin], kind="sync_failure", group_key="k", title="t", body=cause)
                db.session.commit()
        except BaseException as exc:  # reported below: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=fold, args=(cause,)) for cause in ("second", "third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    with app.app_context():
        note = db.session.scalar(select(Notification))
        assert note.count == 3
        assert sorted(notifications.causes(note.body)) == [("first", 1), ("second", 1), ("third", 1)]
