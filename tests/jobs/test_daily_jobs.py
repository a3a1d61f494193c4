"""The daily jobs run by a real worker process (issue 14, "Done when": each job has a test that runs a real
worker): token-expiry warnings reach the sync administrators, and retention prunes old Sync log rows."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.jobs import queue
from portal.models import Notification, SyncLog, SyncSource, utcnow
from tests.directory_support import log_sync, make_source_with_token
from tests.jobs.conftest import JobsStorage, wait_for, worker

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]


def _titles(app: Any) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Notification.title).where(Notification.kind == "token_expiring")))


def _sync_log_names(app: Any) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(SyncLog.object_name)))


def test_a_worker_warns_of_an_expiring_token_and_prunes_old_sync_log_rows(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    source_id, _, _ = make_source_with_token(app, org.id, name="JumpCloud")
    now = utcnow()
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        assert source is not None
        # Noon, 7 calendar days (UTC) ahead: the warning counts days as the card prints dates.
        source.token_expires_at = datetime.combine(now.date() + timedelta(days=7), time(12))
        log_sync(source, "create", object_name="old", at=now - timedelta(days=200))
        log_sync(source, "create", object_name="recent", at=now - timedelta(days=2))
        db.session.commit()
        jobs = queue.jobs_for(app)
        # What the scheduler enqueues each hour; the worker in another process runs them.
        jobs.tasks.warn_expiring_tokens()
        jobs.tasks.prune()

    with worker(database_url, tmp_path, sqlite_jobs):
        titles = wait_for(lambda: _titles(app), what="the token-expiry warning")
        wait_for(lambda: _sync_log_names(app) == ["recent"], what="the old Sync log row to be pruned")
    assert titles == ["JumpCloud: Token expires in 7 days"]
