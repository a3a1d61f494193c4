"""One writer at a time on a SQLite file, queued on an OS file lock instead of SQLite's busy sleeps.

SQLite lets one connection write at a time. A second writer spins in SQLite's
busy handler, which sleeps 1, 2, 5, 10 ... ms between tries: with two gunicorn
workers creating users, most of the time of a contended write went to that
sleep (BENCHMARKS.md). Here every connection takes an exclusive ``flock`` on
``<database>.write-lock`` before its first write statement and gives it back
right after its COMMIT or ROLLBACK, so a waiting writer wakes the moment the
lock is free. The lock only orders writers: SQLite's own locking still guards
the data, so a writer that does not take it (the sqlite3 shell, a migration)
is merely not queued. Reads never take it.
"""
from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_WRITES = ("insert", "update", "delete", "replace")
_HELD = "sqlite_write_lock_held"
#: a process checkpoints the write-ahead log after this many of its commits (SQLite's own: every 1,000 pages)
CHECKPOINT_EVERY = 200


class WriteQueue:
    """The file lock of one SQLite database, shared by every connection of this process."""

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}.write-lock"
        self._fd: int | None = None
        self._pid = 0
        self._commits = 0

    def _descriptor(self) -> int:
        # One descriptor per process: gunicorn forks workers after the app is built,
        # and a lock taken on an inherited descriptor would be shared with the parent.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, info: dict[str, Any]) -> None:
        """Take the lock for a connection about to write (once per transaction)."""
        if not info.get(_HELD):
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            info[_HELD] = True

    def release(self, info: dict[str, Any]) -> None:
        """Give the lock back once the connection's transaction is over."""
        if info.pop(_HELD, False):
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)

    def committed(self, dbapi_connection: Any) -> None:
        """Count a commit; every CHECKPOINT_EVERY, copy the log back into the database, outside the lock.

        SQLite's automatic checkpoint runs inside COMMIT, that is while the lock is
        held, and its fsync would hold up every queued writer; a PASSIVE checkpoint
        run after the release blocks nobody.
        """
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


def install(engine: Engine, database_path: str) -> WriteQueue:
    """Queue the engine's writers on ``<database_path>.write-lock``."""
    queue = WriteQueue(database_path)

    @event.listens_for(engine, "connect")
    def _no_automatic_checkpoint(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0").close()

    @event.listens_for(engine, "savepoint")
    def _before_savepoint(conn: Connection, name: str) -> None:
        # Registered before portal's own savepoint listener, which may BEGIN IMMEDIATE (a write lock).
        queue.acquire(conn.info)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:7].lower().startswith(_WRITES):
            queue.acquire(conn.info)

    # The lock is given back after the DBAPI commit or rollback (SQLAlchemy's events run
    # before it): the listener ends the transaction itself; the driver's own call then finds none.
    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        if conn.info.get(_HELD):
            dbapi_connection = conn.connection.dbapi_connection
            dbapi_connection.commit()
            queue.release(conn.info)
            queue.committed(dbapi_connection)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        if conn.info.get(_HELD):
            conn.connection.dbapi_connection.rollback()
            queue.release(conn.info)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        # A connection going back to the pool never keeps the lock.
        if record.info.get(_HELD):
            dbapi_connection.rollback()
            queue.release(record.info)

    return queue
