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

import atexit
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

_WRITES = ("insert", "update", "delete", "replace")
_HELD = "sqlite_write_lock_held"
#: seconds between a process's checkpoints of the write-ahead log, when it committed since the last one
CHECKPOINT_INTERVAL = 0.5
#: a log longer than this is started again from its beginning after the checkpoint (see _checkpoint)
WAL_RESTART_BYTES = 64 * 1024 * 1024
#: the writer that starts the log again cuts its file back to this many restart sizes, only when a
#: burst (a long reader holding the restarts off) grew it past them; cut back to one restart size,
#: as it was, the file shrank at every restart, and the writer that started the log again waited
#: some 20 ms for the file system to free the blocks and sync, every queued writer with it
WAL_KEPT_FACTOR = 4
#: seconds that restart waits for readers still on the log, holding the write lock, before it tries again later
RESTART_WAIT = 0.1

#: seconds a process's last run of the background writes may take (``finish_background``)
FINISH_SECONDS = 60
#: the niceness of the thread that runs the background writes (os.setpriority), as the job worker's JOBS_NICE
BACKGROUND_NICE = 10
#: runs a write transaction (the callable) in the process's turn to write, and returns what it returned
InTurn = Callable[[Callable[[], int]], int]
#: work a thread of each process does after commits (``_background_forever``): given the thread's connection and
#: ``InTurn``, it writes in as many transactions as it likes, each in its turn, and returns how many rows
#: it handled (``search_index.catch_up``)
BackgroundWrite = Callable[[sqlite3.Connection, InTurn], int]


class WriteQueue:
    """The file lock of one SQLite database, shared by every connection of this process."""

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}.write-lock"
        self.checkpoint_path = f"{database_path}.checkpoint-lock"
        self.database_path = database_path
        self._fd: int | None = None
        self._pid = 0
        # Threads of one process (the job worker's) must share one descriptor: two threads opening
        # their own at once left a lock taken on a descriptor that no release would ever reach.
        self._open_lock = threading.Lock()
        self._commits = 0
        self._checkpointer_pid = 0
        #: the database's ``BackgroundWrite``s, in the order they run
        self.background: list[BackgroundWrite] = []

    def _descriptor(self) -> int:
        # One descriptor per process: gunicorn forks workers after the app is built,
        # and a lock taken on an inherited descriptor would be shared with the parent.
        with self._open_lock:
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

    def committed(self) -> None:
        """Count a commit, and make sure this process has a thread checkpointing the log.

        SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 pages
        of log: while the lock is held, and in the middle of one unlucky request, which
        then took 20 ms and more. A thread of each process copies the log back into the
        database every CHECKPOINT_INTERVAL instead (``_checkpoint``).
        """
        self._commits += 1
        if self._checkpointer_pid != os.getpid():
            self._checkpointer_pid = os.getpid()
            threading.Thread(target=self._checkpoint_forever, name="sqlite-checkpoint", daemon=True).start()
            if self.background:
                threading.Thread(target=self._background_forever, name="sqlite-background", daemon=True).start()
                # A process that exits before that thread's next turn (a CLI command) leaves no work behind.
                atexit.register(self.finish_background)

    def _background_writes(self, connection: sqlite3.Connection, lock: int) -> int:
        """Run the ``background`` writes once; returns the rows they handled (a failure is logged, not raised)."""

        def in_turn(write: Callable[[], int]) -> int:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return write()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

        handled = 0
        for background in self.background:
            try:
                handled += background(connection, in_turn)
            except sqlite3.Error:
                log.warning("SQLite background write failed; trying again after the next commit", exc_info=True)
        return handled

    def finish_background(self) -> None:
        """Run the ``background`` writes until they find nothing left, for FINISH_SECONDS at most (at the
        process's exit: other processes' writes could keep them busy for ever)."""
        if not self.background or not os.path.exists(self.database_path):
            return
        connection = sqlite3.connect(self.database_path, check_same_thread=False, isolation_level=None)
        lock = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + FINISH_SECONDS
        try:
            while self._background_writes(connection, lock) and time.monotonic() < deadline:
                pass
        finally:
            connection.close()
            os.close(lock)

    def _background_forever(self) -> None:
        """Run the ``background`` writes every CHECKPOINT_INTERVAL after commits, at a lower CPU priority.

        Their work (building the search index) is CPU the requests' threads need more: at the
        same priority, on two cores, a request that met a batch took its share of the core and
        ran up to 30 ms longer. At BACKGROUND_NICE the batches take the CPU the requests leave.
        """
        pid, seen, left = os.getpid(), -1, False
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)  # this thread only (Linux)
        except OSError:
            log.info("could not lower the SQLite background thread's priority", exc_info=True)
        connection = sqlite3.connect(self.database_path, check_same_thread=False, isolation_level=None)
        lock = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while pid == os.getpid():
                time.sleep(CHECKPOINT_INTERVAL)
                if not os.path.exists(self.database_path):
                    break
                commits = self._commits
                if commits != seen or left:
                    seen = commits
                    # Something handled means maybe more is left (a write took only its share).
                    left = self._background_writes(connection, lock) > 0
        finally:
            connection.close()
            os.close(lock)

    def _checkpoint_forever(self) -> None:
        pid, seen = os.getpid(), -1
        connection = sqlite3.connect(self.database_path, check_same_thread=False)
        # Descriptors of its own: the request threads' one would not keep them out.
        lock = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        checkpoint_lock = os.open(self.checkpoint_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while pid == os.getpid():
                time.sleep(CHECKPOINT_INTERVAL)
                if not os.path.exists(self.database_path):
                    break  # the database went away (a test's temporary file): nothing left to copy
                commits = self._commits
                if commits != seen:
                    try:
                        taken = self._checkpoint(connection, lock, checkpoint_lock)
                    except sqlite3.Error:
                        log.warning("SQLite checkpoint failed; trying again after the next commit", exc_info=True)
                        taken = True
                    if taken:  # else another process's thread had the turn: try again at the next interval
                        seen = commits
        finally:
            connection.close()
            os.close(lock)
            os.close(checkpoint_lock)

    def _checkpoint(self, connection: sqlite3.Connection, lock: int, checkpoint_lock: int) -> bool:
        """Copy the log into the database; start a long log again from its beginning.

        Returns False when another process's thread was checkpointing (it copies this
        process's commits too; this one tries again at the next interval).

        A PASSIVE checkpoint waits for nobody (the driver lets the request threads run
        meanwhile), but under a steady load it never catches up with the writers, and
        SQLite starts the log again only once it has: the log grew without end (2 GB
        in a 45 s bench, and every read searched its index). So when the log has grown
        past WAL_RESTART_BYTES, the thread takes the write lock like any writer and
        runs a RESTART checkpoint, which copies the little the PASSIVE ones left and waits
        for the readers still on the log; the next writer then writes from its start.
        Writers queue meanwhile, so it waits RESTART_WAIT at most: a long read (an
        export) makes it give up and try again at the next interval.

        One thread of all the processes checkpoints at a time (``<database>.checkpoint-lock``):
        SQLite runs one checkpoint at a time, so a RESTART that met another process's
        PASSIVE would wait for it while holding the write lock, every writer with it.
        """
        try:
            fcntl.flock(checkpoint_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            try:
                size = os.path.getsize(f"{self.database_path}-wal")
            except OSError:
                return True
            if size <= WAL_RESTART_BYTES:
                return True
            # Again, to copy what was written during the first: the less is left, the shorter
            # the RESTART holds the write lock (its copy and its sync of the database file).
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                connection.execute(f"PRAGMA busy_timeout={int(RESTART_WAIT * 1000)}").close()
                connection.execute("PRAGMA wal_checkpoint(RESTART)").close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            return True
        finally:
            fcntl.flock(checkpoint_lock, fcntl.LOCK_UN)


#: one queue (lock descriptor, commit count, checkpoint thread) per database file and process
_QUEUES: dict[str, WriteQueue] = {}


def install(engine: Engine, database_path: str) -> WriteQueue:
    """Queue the engine's writers on ``<database_path>.write-lock``."""
    queue = _QUEUES.get(os.path.abspath(database_path))
    if queue is None:
        queue = _QUEUES[os.path.abspath(database_path)] = WriteQueue(database_path)

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
            assert dbapi_connection is not None  # a connection in a transaction is not invalidated
            dbapi_connection.commit()
            queue.release(conn.info)
            queue.committed()

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        if conn.info.get(_HELD):
            dbapi_connection = conn.connection.dbapi_connection
            assert dbapi_connection is not None  # a connection in a transaction is not invalidated
            dbapi_connection.rollback()
            queue.release(conn.info)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        # A connection going back to the pool never keeps the lock.
        if record.info.get(_HELD):
            dbapi_connection.rollback()
            queue.release(record.info)

    return queue


def queue_for(database_path: str) -> WriteQueue | None:
    """This process's queue of the database, once an engine of it is installed."""
    return _QUEUES.get(os.path.abspath(database_path))


def finish_background(database_path: str) -> None:
    """Run the database's background writes now, until they find nothing left (a test, a CLI command)."""
    queue = queue_for(database_path)
    if queue is not None:
        queue.finish_background()
