"""Refused requests at a source's URL (401, 403, 429) leave one Sync log row per source, reason and minute.

DESIGN.md, contracts: "every refused request at a source's URL (401, 403, 429: repeats folded per
source, reason and minute), leaves one SyncLog row". Every row here is made by real SCIM requests
through the test client; the console's Sync log then shows the repeat count and the hint of each
refusal. The clock of the sync log is frozen (``portal.core.sync_log.utcnow``), so "one minute"
never depends on when the test runs.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import sync_log
from portal.extensions import db, limiter
from portal.models import Notification, SyncSource, utcnow
from tests.conftest import Console
from tests.scim.conftest import Scim, add_source, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases

#: the minute every test starts in (UTC)
T0 = datetime(2031, 5, 6, 9, 15, 5)


class Clock:
    """The sync log's clock: each reading is ``step`` later than the one before."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.next = start
        self.step = step

    def __call__(self) -> datetime:
        now = self.next
        self.next = now + self.step
        return now


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sync_log, "utcnow", clock)
    return clock


def _source_db_id(app: Any, public_id: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == public_id))


def _drawer(console: Console, source_id: int, log_id: int) -> str:
    response = console.get(f"/settings/directory-sync/{source_id}/sync-log/{log_id}", htmx=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _listing(console: Console, source_id: int) -> str:
    response = console.get(f"/settings/directory-sync/{source_id}/sync-log")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _enable_rate_limits(app: Any, **limits: str) -> None:
    """Rate limits on, before the app's first request (the console signs in after this)."""
    app.config.update(RATELIMIT_ENABLED=True, **limits)
    limiter.init_app(app)  # a fresh in-memory storage, with the limits of this test


def _sign_in(client: Any, org: Any) -> Console:
    console = Console(client)
    assert console.login(org.email, org.password).status_code == 302
    return console


def test_31_wrong_tokens_in_one_minute_are_one_row_counted_31_with_its_hint(
    app: Any, scim: Scim, clock: Clock, console: Console
) -> None:
    for n in range(31):
        response = scim.get("/Users", token=f"dsp_wrong-{n}")
        assert_scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    rows = sync_logs(app)
    assert len(rows) == 1
    row = rows[0]
    assert (row.status_code, row.result, row.operation, row.repeat_count) == (401, "failure", "request", 31)
    assert row.error_detail == "The bearer token is not valid for this sync source"
    assert sync_log.refusal_reason(row.fold_key) == "invalid"
    assert (row.created_at, row.last_seen_at) == (T0, T0 + timedelta(seconds=30))
    assert (row.method, row.path) == ("GET", f"{scim.source.path}/Users")
    assert "dsp_wrong" not in repr([getattr(row, c.key) for c in sa.inspect(type(row)).columns])

    source_id = _source_db_id(app, scim.source.id)
    listing = _listing(console, source_id)
    assert "Failed · 401" in listing and "×31" in listing
    html = _drawer(console, source_id, row.id)
    assert "Repeated 31 times between 09:15:05 and 09:15:35" in html
    assert "How to fix it" in html
    assert "sent a token this sync source does not accept. Copy the token again" in html


def test_a_request_in_the_next_minute_starts_a_new_row(app: Any, scim: Scim, clock: Clock) -> None:
    for _ in range(3):
        assert_scim_error(scim.get("/Users", token="dsp_wrong"), 401)
    clock.next = T0.replace(minute=16, second=0)
    for _ in range(2):
        assert_scim_error(scim.get("/Users", token="dsp_wrong"), 401)
    assert [(r.created_at, r.repeat_count) for r in sync_logs(app)] == [(T0, 3), (T0.replace(minute=16, second=0), 2)]


def test_missing_and_expired_tokens_are_a_row_each_with_their_hints(
    app: Any, scim: Scim, clock: Clock, console: Console
) -> None:
    for _ in range(2):
        assert_scim_error(scim.client.get(f"{scim.source.path}/Users"), 401)  # no Authorization header
    with app.app_context():
        db.session.execute(sa.update(SyncSource).values(token_expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    for _ in range(3):
        assert_scim_error(scim.get("/Users"), 401)  # the source's own token, now expired
    rows = sync_logs(app)
    assert [(sync_log.refusal_reason(r.fold_key), r.status_code, r.repeat_count) for r in rows] == [
        ("missing", 401, 2),
        ("expired", 401, 3),
    ]
    assert rows[0].error_detail.startswith("Authentication required")
    assert "expired" in rows[1].error_detail

    source_id = _source_db_id(app, scim.source.id)
    missing, expired = (_drawer(console, source_id, r.id) for r in rows)
    assert "How to fix it" in missing and "sent no token. Paste this sync source&#39;s token" in missing
    assert "Repeated 2 times" in missing
    assert "How to fix it" in expired and "The token has expired. Click Refresh token" in expired
    assert "Repeated 3 times" in expired


def test_an_inactive_sources_requests_are_403_and_one_folded_row(
    app: Any, runner: Any, client: Any, org: Any, clock: Clock, console: Console
) -> None:
    source = add_source(runner, org.name, "--activate")
    assert runner.invoke(args=["sync-source", "deactivate", source.id]).exit_code == 0
    inactive = Scim(client, source)
    for _ in range(4):
        assert assert_scim_error(inactive.get("/Users"), 403)["detail"] == "sync source is not activated"
    rows = sync_logs(app)
    assert [(sync_log.refusal_reason(r.fold_key), r.status_code, r.repeat_count) for r in rows] == [
        ("inactive", 403, 4)
    ]
    with app.app_context():
        assert db.session.scalar(sa.select(SyncSource.last_status).where(SyncSource.public_id == source.id)) == 403

    html = _drawer(console, _source_db_id(app, source.id), rows[0].id)
    assert "How to fix it" in html and "Activate the sync source" in html
    assert "Repeated 4 times" in html


def test_the_per_token_rate_limit_429_is_one_row_with_its_hint(app: Any, org: Any, scim: Scim, clock: Clock) -> None:
    _enable_rate_limits(app, SCIM_RATE_LIMIT="2 per minute")
    assert [scim.get("/Users").status_code for _ in range(2)] == [200, 200]
    for _ in range(3):
        response = scim.get("/Users")
        assert_scim_error(response, 429, "tooMany")
        assert int(response.headers["Retry-After"]) >= 1
    rows = sync_logs(app)
    assert [(sync_log.refusal_reason(r.fold_key), r.status_code, r.scim_type, r.repeat_count) for r in rows] == [
        ("rate_limited", 429, "tooMany", 3)
    ]

    html = _drawer(_sign_in(scim.client, org), _source_db_id(app, scim.source.id), rows[0].id)
    assert "How to fix it" in html and "sent more requests than the rate limit allows" in html
    assert "Repeated 3 times" in html


def test_the_refused_token_limit_per_address_429_is_a_row_of_its_own_with_its_hint(
    app: Any, org: Any, scim: Scim, clock: Clock
) -> None:
    _enable_rate_limits(app, SCIM_AUTH_FAILURE_LIMIT="3 per minute")
    assert [scim.get("/Users", token=f"dsp_wrong-{n}").status_code for n in range(3)] == [401] * 3
    for n in range(2):
        assert_scim_error(scim.get("/Users", token=f"dsp_wrong-again-{n}"), 429, "tooMany")
    rows = sync_logs(app)
    assert [(sync_log.refusal_reason(r.fold_key), r.status_code, r.repeat_count) for r in rows] == [
        ("invalid", 401, 3),
        ("refusals_limited", 429, 2),
    ]
    with app.app_context():  # the notification of the wrong tokens counts the 401s, as before
        assert db.session.scalar(sa.select(sa.func.max(Notification.count))) == 3

    html = _drawer(_sign_in(scim.client, org), _source_db_id(app, scim.source.id), rows[1].id)
    assert "How to fix it" in html and "Too many requests with a refused token came from" in html


def test_refusals_at_two_sources_fold_apart(
    app: Any, runner: Any, client: Any, org: Any, scim: Scim, clock: Clock
) -> None:
    other = Scim(client, add_source(runner, org.name, "--activate"))
    for target in (scim, other, scim):
        assert_scim_error(target.get("/Users", token="dsp_wrong"), 401)
    counts = {r.source_id: r.repeat_count for r in sync_logs(app)}
    assert counts == {_source_db_id(app, scim.source.id): 2, _source_db_id(app, other.source.id): 1}


def test_concurrent_refusals_fold_into_one_row_without_losing_a_count(app: Any, scim: Scim, monkeypatch: Any) -> None:
    """The fold is one INSERT ... ON CONFLICT DO UPDATE: parallel requests neither make a second row nor lose one."""
    monkeypatch.setattr(sync_log, "utcnow", lambda: T0)
    threads, per_thread = 4, 8
    statuses: list[int] = []
    barrier = threading.Barrier(threads)

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        for _ in range(per_thread):
            statuses.append(
                client.get(f"{scim.source.path}/Users", headers={"Authorization": "Bearer dsp_wrong"}).status_code
            )

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == [401] * threads * per_thread
    assert [(r.status_code, r.repeat_count) for r in sync_logs(app)] == [(401, threads * per_thread)]
