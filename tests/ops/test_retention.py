"""Retention (issue 14): Sync log, read notifications and Admin log pruned in batches; 0 keeps for ever."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from portal.core import retention
from portal.extensions import db
from portal.infra.config import ConfigError, load_config
from portal.models import AdminLog, ChangeEvent, Notification, OutboxMessage, SyncLog, SyncSource, utcnow
from tests.directory_support import log_sync, make_source
from tests.factories import make_org

NOW = utcnow().replace(microsecond=0)
SECOND = timedelta(seconds=1)


def _ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def _sync_rows(app: Any, source_id: int, *times: datetime) -> None:
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for at in times:
            log_sync(source, "create", object_name=f"user-{at.isoformat()}", at=at)
        db.session.commit()


def _admin_rows(app: Any, org_id: int, *times: datetime) -> None:
    with app.app_context():
        for at in times:
            db.session.add(
                AdminLog(org_id=org_id, actor="CLI", event_type="Add sync source", category="Settings", created_at=at)
            )
        db.session.commit()


def _notification(app: Any, org: Any, at: datetime, *, read: bool, key: str) -> int:
    with app.app_context():
        note = Notification(
            org_id=org.id,
            admin_id=org.admin_id,
            kind="sync_failure",
            group_key=key,
            title=key,
            created_at=at,
            updated_at=at,
            read_at=at + SECOND if read else None,
        )
        db.session.add(note)
        db.session.commit()
        return note.id


def _times(app: Any, model: Any, *where: Any) -> list[datetime]:
    with app.app_context():
        return sorted(db.session.scalars(select(model.created_at).where(*where)))


def _prune(app: Any, **kwargs: Any) -> dict[str, int]:
    with app.app_context():
        return retention.prune(NOW, **kwargs)


@pytest.mark.both_databases
def test_sync_log_rows_go_after_180_days_exactly(app, org):
    source_id = make_source(app, org.id)
    _sync_rows(app, source_id, _ago(180) - SECOND, _ago(180), _ago(179), _ago(400))
    assert _prune(app)["sync_log"] == 2
    assert _times(app, SyncLog) == [_ago(180), _ago(179)]


@pytest.mark.both_databases
def test_admin_log_entries_go_after_365_days_exactly(app, org):
    recent = _times(app, AdminLog)  # what creating the organization logged, just now
    _admin_rows(app, org.id, _ago(365) - SECOND, _ago(365), _ago(1000))
    assert _prune(app)["admin_log"] == 2
    assert _times(app, AdminLog) == [_ago(365), *recent]


@pytest.mark.both_databases
def test_read_notifications_go_after_90_days_unread_ones_stay(app, org):
    _notification(app, org, _ago(90) - SECOND, read=True, key="old-read")
    _notification(app, org, _ago(90), read=True, key="boundary-read")
    _notification(app, org, _ago(500), read=False, key="old-unread")
    _notification(app, org, _ago(1), read=True, key="recent-read")
    assert _prune(app)["notifications"] == 1
    with app.app_context():
        assert set(db.session.scalars(select(Notification.group_key))) == {"boundary-read", "old-unread", "recent-read"}


@pytest.mark.both_databases
def test_a_pruned_notification_leaves_its_outbox_row(app, org):
    note_id = _notification(app, org, _ago(200), read=True, key="emailed")
    with app.app_context():
        db.session.add(
            OutboxMessage(
                org_id=org.id, payload={"to": "a@acme.test"}, notification_id=note_id, status="sent", sent_at=_ago(200)
            )
        )
        db.session.commit()
    assert _prune(app)["notifications"] == 1
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.notification_id)) is None


@pytest.mark.both_databases
def test_zero_keeps_for_ever(app, org):
    source_id = make_source(app, org.id)
    _sync_rows(app, source_id, _ago(5000))
    _admin_rows(app, org.id, _ago(5000))
    _notification(app, org, _ago(5000), read=True, key="ancient")
    app.config.update(SYNC_LOG_RETENTION_DAYS=0, ADMIN_LOG_RETENTION_DAYS=0, NOTIFICATION_RETENTION_DAYS=0)
    assert _prune(app) == {
        "sync_log": 0,
        "notifications": 0,
        "admin_log": 0,
        "change_events": 0,
        "webhook_deliveries": 0,
    }
    assert _ago(5000) in _times(app, SyncLog) and _ago(5000) in _times(app, AdminLog)
    assert _times(app, Notification) == [_ago(5000)]


@pytest.mark.both_databases
def test_configured_days_apply(app, org):
    source_id = make_source(app, org.id)
    _sync_rows(app, source_id, _ago(31), _ago(29))
    app.config.update(SYNC_LOG_RETENTION_DAYS=30)
    assert _prune(app)["sync_log"] == 1
    assert _times(app, SyncLog) == [_ago(29)]


@pytest.mark.both_databases
def test_rows_go_in_batches_each_committed_and_every_organization_is_pruned(app, org):
    other = make_org(app, "Globex", "owner@globex.test")
    ours, theirs = make_source(app, org.id), make_source(app, other.id, name="Okta")
    # Eleven old rows at one time in one organization (the batches' resume point has ties), three in the other.
    _sync_rows(app, ours, *([_ago(300)] * 6 + [_ago(250)] * 5), _ago(10))
    _sync_rows(app, theirs, _ago(300), _ago(200), _ago(190), _ago(10))
    commits = []
    with app.app_context():
        event.listen(db.session(), "after_commit", lambda session: commits.append(1))
        counts = retention.prune(NOW, batch=3)
    assert counts["sync_log"] == 14
    # 4 batches (3+3+3+2) in one organization, 1 in the other, then the closing commit.
    assert len(commits) >= 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncLog)) == 2


def test_prune_logs_its_counts(app, org, caplog):
    source_id = make_source(app, org.id)
    _sync_rows(app, source_id, _ago(181))
    with caplog.at_level(logging.INFO, logger="portal.core.retention"):
        _prune(app)
    assert "retention: deleted 1 sync log rows, 0 read notifications, 0 admin log entries" in caplog.text


@pytest.mark.both_databases
def test_change_events_follow_the_sync_log_retention_issue_16(app, org):
    with app.app_context():
        db.session.add_all(
            ChangeEvent(
                org_id=org.id,
                seq=seq,
                type="member.updated",
                object_type="member",
                object_id=f"m{seq}",
                actor_type="system",
                data={},
                changed_fields=[],
                created_at=at,
            )
            for seq, at in ((1001, _ago(180) - SECOND), (1002, _ago(180)), (1003, _ago(10)))
        )
        db.session.commit()
    assert _prune(app)["change_events"] == 1
    assert _times(app, ChangeEvent, ChangeEvent.seq > 1000) == [_ago(180), _ago(10)]
    app.config.update(SYNC_LOG_RETENTION_DAYS=0)
    assert _prune(app)["change_events"] == 0  # 0 keeps for ever


def test_each_batch_is_read_through_an_index_on_sqlite(app, org):
    """The reads that pick a batch walk the index that starts with their scope: no scan of the table."""
    with app.app_context():
        for query, index in (
            (retention.old_sync_log(org.id, NOW), "ix_sync_logs_org_created"),
            (retention.old_admin_log(org.id, NOW), "ix_admin_logs_org_created"),
            (retention.old_read_notifications(org.admin_id, NOW), "ix_notifications_admin_unread"),
        ):
            compiled = query.limit(5000).compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = [str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
            # e.g. SEARCH sync_logs USING COVERING INDEX ix_sync_logs_org_created (org_id=? AND created_at<?)
            assert plan[0].startswith("SEARCH") and f"INDEX {index} (" in plan[0], plan
            assert not any(step.startswith("SCAN") for step in plan), plan


@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_a_retention_that_is_no_whole_number_refuses_to_start(monkeypatch, tmp_path, value):
    monkeypatch.setenv("SYNC_LOG_RETENTION_DAYS", value)
    with pytest.raises(ConfigError, match="SYNC_LOG_RETENTION_DAYS must be a whole number of days"):
        load_config(tmp_path)


def test_retention_defaults(monkeypatch, tmp_path):
    for name in ("SYNC_LOG_RETENTION_DAYS", "NOTIFICATION_RETENTION_DAYS", "ADMIN_LOG_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert (config["SYNC_LOG_RETENTION_DAYS"], config["NOTIFICATION_RETENTION_DAYS"]) == (180, 90)
    assert config["ADMIN_LOG_RETENTION_DAYS"] == 365
