"""SQLite writers queue on <database>.write-lock (portal.sqlite_writes): held from the first write to COMMIT or ROLLBACK.

The lock is checked the way another gunicorn worker meets it: through a second
open file description of the lock file, with a non-blocking ``flock``.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import JobTitle


@pytest.fixture
def lock_path(app: Any) -> Iterator[str]:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the write queue is for SQLite files")
        yield f"{db.engine.url.database}.write-lock"


def _held(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _insert_title(org: Any, name: str) -> None:
    db.session.execute(sa.insert(JobTitle.__table__).values(org_id=org.id, name=name, name_norm=name.lower()))


def test_a_write_holds_the_lock_until_commit(app: Any, org: Any, lock_path: str) -> None:
    with app.app_context():
        db.session.execute(sa.select(JobTitle.id)).all()
        assert not _held(lock_path), "a read never takes the write lock"
        _insert_title(org, "Queued")
        assert _held(lock_path)
        db.session.commit()
        assert not _held(lock_path)
        assert db.session.scalar(sa.select(JobTitle.name).where(JobTitle.name == "Queued")) == "Queued"


def test_a_rollback_and_a_returned_connection_release_it(app: Any, org: Any, lock_path: str) -> None:
    with app.app_context():
        _insert_title(org, "Rolled back")
        assert _held(lock_path)
        db.session.rollback()
        assert not _held(lock_path)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTitle)) == 0
        _insert_title(org, "Abandoned")
        assert _held(lock_path)
        db.session.remove()  # back to the pool without COMMIT: the pool's reset rolls back
        assert not _held(lock_path)


def test_a_writer_of_another_process_waits_for_the_lock_then_writes(app: Any, org: Any, lock_path: str) -> None:
    """Another worker's INSERT blocks on the lock (not on SQLite's busy sleeps) and lands after our COMMIT."""
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["DATABASE_URL"] = {app.config["SQLALCHEMY_DATABASE_URI"]!r}
        from portal import create_app
        from portal.extensions import db
        import sqlalchemy as sa
        from portal.models import JobTitle
        app = create_app({{"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"], "TESTING": True}})
        with app.app_context():
            print("ready", flush=True)
            started = time.monotonic()
            db.session.execute(sa.insert(JobTitle.__table__).values(org_id={org.id}, name="Second", name_norm="second"))
            db.session.commit()
            print(round(time.monotonic() - started, 3))
    """)
    with app.app_context():
        _insert_title(org, "First")
        other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                 cwd=os.getcwd())
        assert other.stdout is not None and other.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        assert other.poll() is None, "the other writer must wait while we hold the write"
        db.session.commit()
        out, _ = other.communicate(timeout=30)
        assert other.returncode == 0
        assert float(out.strip()) >= 0.9
        names = db.session.scalars(sa.select(JobTitle.name).order_by(JobTitle.id)).all()
    assert names == ["First", "Second"]


def test_a_thread_checkpoints_the_log_outside_any_request(app: Any, org: Any, lock_path: str) -> None:
    """No COMMIT copies the log back itself (wal_autocheckpoint=0); the process's checkpoint thread does."""
    import threading

    from portal import sqlite_writes

    database = lock_path.removesuffix(".write-lock")
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA wal_autocheckpoint")).scalar() == 0
        before = os.stat(database).st_mtime_ns
        for i in range(20):
            _insert_title(org, f"Title {i}")
            db.session.commit()
    assert any(thread.name == "sqlite-checkpoint" for thread in threading.enumerate())
    deadline = time.monotonic() + sqlite_writes.CHECKPOINT_INTERVAL * 6
    while os.stat(database).st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.stat(database).st_mtime_ns != before, "the database file received the log's pages"
