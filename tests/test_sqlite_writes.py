"""SQLite writers queue on <database>.write-lock (portal.infra.sqlite_writes).

Held from the first write to COMMIT or ROLLBACK.

The lock is checked the way another gunicorn worker meets it: through a second
open file description of the lock file, with a non-blocking ``flock``.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

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


def test_threads_writing_first_at_once_share_one_descriptor_and_leave_the_lock_free(
    app: Any, org: Any, lock_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job worker's threads often write first together: each used to open a descriptor of its own,
    and the lock taken on the first was never released (every writer of every process then hung)."""
    from portal.infra import sqlite_writes

    queue = sqlite_writes.WriteQueue(lock_path.removesuffix(".write-lock"))
    real_open = os.open

    def slow_open(*args: Any) -> int:
        time.sleep(0.2)  # both threads find no descriptor yet
        return real_open(*args)

    monkeypatch.setattr(sqlite_writes.os, "open", slow_open)
    infos: list[dict[str, Any]] = [{}, {}]
    threads = [threading.Thread(target=queue.acquire, args=(info,)) for info in infos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads), "a thread of the process waits for its own lock"
    for info in infos:
        queue.release(info)
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
        other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
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

    from portal.infra import sqlite_writes

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


def test_the_background_writes_run_in_a_thread_of_lower_priority(app: Any, org: Any, lock_path: str) -> None:
    """The search index is built by a thread at niceness BACKGROUND_NICE, so that it takes the CPU the
    requests leave, not theirs (Linux: a thread's niceness is its own, in /proc)."""
    from portal.infra import sqlite_writes

    with app.app_context():
        _insert_title(org, "Niceness")
        db.session.commit()
    threads = [thread for thread in threading.enumerate() if thread.name == "sqlite-background"]
    assert threads, "a commit started the process's background thread"
    deadline = time.monotonic() + 5

    def nice(thread_id: int) -> int:
        with open(f"/proc/self/task/{thread_id}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[16])  # field 19: after the name, the 17th

    niceness = [nice(thread.native_id) for thread in threads if thread.native_id]
    while not all(value == sqlite_writes.BACKGROUND_NICE for value in niceness) and time.monotonic() < deadline:
        time.sleep(0.05)
        niceness = [nice(thread.native_id) for thread in threads if thread.native_id]
    assert niceness and all(value == sqlite_writes.BACKGROUND_NICE for value in niceness)
    main_nice = nice(threading.main_thread().native_id or 0)
    assert main_nice == os.getpriority(os.PRIO_PROCESS, 0)  # the request threads keep theirs


def _log_frames(database: str) -> int:
    """Frames in the write-ahead log (what a PASSIVE checkpoint reports)."""
    connection = sqlite3.connect(database)
    try:
        return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    finally:
        connection.close()


def _fill_log(org: Any, prefix: str, count: int) -> None:
    for i in range(count):
        _insert_title(org, f"{prefix} {i}")
        db.session.commit()


def _commits_behind_a_reader(org: Any, database: str, count: int) -> sqlite3.Connection:
    """``count`` commits, a reader that opens a read transaction, ``count`` more commits; returns the reader.

    The reader's snapshot keeps the later commits out of any checkpoint until it ends.
    """
    _fill_log(org, "Before", count)
    reader = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM job_titles").fetchone()
    _fill_log(org, "After", count)
    return reader


def _checkpoint_once(lock_path: str) -> float:
    """Run the checkpoint thread's step once, here; returns the seconds it took."""
    from portal.infra import sqlite_writes

    database = lock_path.removesuffix(".write-lock")
    queue = sqlite_writes._QUEUES[os.path.abspath(database)]
    checkpointer = sqlite3.connect(database, check_same_thread=False)
    lock = os.open(lock_path, os.O_RDWR)
    checkpoint_lock = os.open(queue.checkpoint_path, os.O_RDWR | os.O_CREAT)
    started = time.monotonic()
    try:
        # The process's own checkpoint thread may be taking its turn: then wait for the next one.
        while not queue._checkpoint(checkpointer, lock, checkpoint_lock):
            assert time.monotonic() < started + 5, "a checkpoint turn came free"
            time.sleep(0.05)
    finally:
        checkpointer.close()
        os.close(lock)
        os.close(checkpoint_lock)
    return time.monotonic() - started


def test_a_log_kept_busy_by_a_reader_starts_again_from_its_beginning(
    app: Any, org: Any, lock_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a PASSIVE checkpoint never catches up, and the log grew without end (2 GB in a bench run).

    A reader's snapshot keeps the last commits out of the PASSIVE checkpoint; the
    RESTART that follows waits for it (here it ends after 0.3 s), so the next
    write starts the log again and it holds a few frames instead of all of them.
    """
    from portal.infra import sqlite_writes

    monkeypatch.setattr(sqlite_writes, "WAL_RESTART_BYTES", 0)
    monkeypatch.setattr(sqlite_writes, "RESTART_WAIT", 10.0)
    database = lock_path.removesuffix(".write-lock")
    with app.app_context():
        reader = _commits_behind_a_reader(org, database, 30)
        frames = _log_frames(database)
        assert frames > 60
        threading.Timer(0.3, lambda: reader.execute("COMMIT")).start()
        try:
            _checkpoint_once(lock_path)
        finally:
            reader.close()
        assert not _held(lock_path), "the checkpoint gives the write lock back"
        _fill_log(org, "Restarted", 1)
        assert _log_frames(database) < 10
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTitle)) == 61


def test_a_long_reader_makes_the_restart_give_up_instead_of_holding_the_writers(
    app: Any, org: Any, lock_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.infra import sqlite_writes

    monkeypatch.setattr(sqlite_writes, "WAL_RESTART_BYTES", 0)
    database = lock_path.removesuffix(".write-lock")
    with app.app_context():
        reader = _commits_behind_a_reader(org, database, 5)
        waited = _checkpoint_once(lock_path)
        assert not _held(lock_path)
        _fill_log(org, "Meanwhile", 1)  # a writer gets through while the reader still reads
        reader.execute("COMMIT")
        reader.close()
    assert waited < sqlite_writes.RESTART_WAIT + 2.0


def test_one_thread_of_all_the_processes_checkpoints_at_a_time(app: Any, org: Any, lock_path: str) -> None:
    """While another process's thread checkpoints, this one's skips its turn and copies nothing.

    SQLite runs one checkpoint at a time: a RESTART that met another process's PASSIVE
    would wait for it while holding the write lock, and every writer of every worker with it.
    """
    from portal.infra import sqlite_writes

    database = lock_path.removesuffix(".write-lock")
    queue = sqlite_writes._QUEUES[os.path.abspath(database)]
    other = os.open(queue.checkpoint_path, os.O_RDWR | os.O_CREAT)  # another process's descriptor
    checkpointer = sqlite3.connect(database, check_same_thread=False)
    lock = os.open(lock_path, os.O_RDWR)
    mine = os.open(queue.checkpoint_path, os.O_RDWR)
    try:
        # Taken first, so that this process's own checkpoint thread copies nothing either.
        fcntl.flock(other, fcntl.LOCK_EX)
        with app.app_context():
            _fill_log(org, "Written", 5)
        time.sleep(0.05)
        before = os.stat(database).st_mtime_ns
        assert queue._checkpoint(checkpointer, lock, mine) is False
        time.sleep(0.05)
        assert os.stat(database).st_mtime_ns == before, "no page was copied while the other one checkpoints"
        fcntl.flock(other, fcntl.LOCK_UN)
        assert queue._checkpoint(checkpointer, lock, mine) is True
        assert os.stat(database).st_mtime_ns != before
        assert not _held(queue.checkpoint_path), "the turn is given back"
    finally:
        checkpointer.close()
        for descriptor in (other, lock, mine):
            os.close(descriptor)


def test_a_log_started_again_keeps_its_file_unless_a_burst_grew_it_past_the_kept_size(
    app: Any, org: Any, lock_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer that starts the log again cuts its file back only past WAL_KEPT_FACTOR restart sizes.

    Cut back to the restart size each time, as it was, the file shrank at every restart
    (the log is past that size when the thread restarts it): the writer that started it
    again then waited some 20 ms for the file system to free the blocks and sync, and every
    writer behind the write lock waited with it (BENCHMARKS.md, "The write tail: the log's restart").
    """
    from portal.infra import sqlite_writes

    monkeypatch.setattr(sqlite_writes, "WAL_RESTART_BYTES", 2 * 1024 * 1024)
    kept = sqlite_writes.WAL_KEPT_FACTOR * sqlite_writes.WAL_RESTART_BYTES
    database = lock_path.removesuffix(".write-lock")
    log_file = f"{database}-wal"
    queue = sqlite_writes._QUEUES[os.path.abspath(database)]
    with app.app_context():
        db.engine.dispose()  # connections made from here on get the journal size limit of that restart size
        # Earlier tests on this database may have left a long file: start from an empty one.
        emptier = sqlite3.connect(database, timeout=10)
        try:
            assert emptier.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        finally:
            emptier.close()
        assert os.path.getsize(log_file) == 0
        _fill_log(org, "Started", 1)
        for round_ in itertools.count():
            if os.path.getsize(log_file) > sqlite_writes.WAL_RESTART_BYTES:
                break
            _fill_log(org, f"Past the restart size {round_}", 20)
        grown = os.path.getsize(log_file)
        assert grown < kept
        _checkpoint_once(lock_path)
        _fill_log(org, "Started again", 1)
        assert _log_frames(database) < 10, "the log started again from its beginning"
        assert os.path.getsize(log_file) == grown, "the file was kept as it was, not cut back"

        # A burst past the kept size: the process's thread must not start the log again meanwhile.
        others_turn = os.open(queue.checkpoint_path, os.O_RDWR)
        fcntl.flock(others_turn, fcntl.LOCK_EX)
        try:
            for round_ in itertools.count():
                if os.path.getsize(log_file) > kept:
                    break
                _fill_log(org, f"Burst {round_}", 50)
        finally:
            fcntl.flock(others_turn, fcntl.LOCK_UN)
            os.close(others_turn)
        _checkpoint_once(lock_path)
        _fill_log(org, "After the burst", 1)
        assert os.path.getsize(log_file) <= kept, "a burst's file is cut back to the kept size"
        db.engine.dispose()
