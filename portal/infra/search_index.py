"""SQLite's Members search index, in a database file of its own, kept up in batches.

Until migration 0011, triggers wrote the FTS5 index in the member's own transaction. FTS5
writes a new segment of its index at the end of every such statement and merges segments
as they pile up, all under the database's one write lock: at 100,000 members a create's
CPU p99 was 26.6 ms against 4.2 ms with the index switched off, and the initial sync fell
from 405 to 221 users a second as the index grew (BENCHMARKS.md). Indexed in batches in the
same file, the merges still held the write lock, for 30 to 45 ms at a time, so every
writer waited behind them.

So the index lives in ``<database>.search``, a second SQLite file that every connection
attaches as ``search`` (``attach``), and only the batches write it:

* migration 0011's triggers queue a changed member in the main file's ``member_search_pending``:
  its id and a count of its changes since it was queued (``seq``);
* ``index_batch`` (a thread of each process at a lower CPU priority, ``sqlite_writes``) reads a batch of the
  queue, and, in a transaction of the search file alone, has the index forget the text it holds
  for each member (``member_search_indexed``) and learn the member's text as it is now (none for
  a member deleted since); then it takes off the queue the members whose ``seq`` did not move
  meanwhile, one short write of the main file. A member changed again stays queued;
* until a member leaves the queue, the search reads its current text itself (``member_list``),
  so a search never misses a write and never finds a member by words it no longer has.

The search file holds nothing but what the main file can rebuild: a missing one is filled
again from the members (``fill_if_new``), and a backup need not copy it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from portal.models import SEARCH_STRUCTURES

#: the name every connection attaches the search file as
SCHEMA = "search"
#: the queue of members whose text the index does not hold yet (migration 0011, main file)
PENDING = SEARCH_STRUCTURES["pending"]
_FTS = SEARCH_STRUCTURES["table"]
#: what the index holds for each member: FTS5 forgets a text only when told it again
_INDEXED = f"{_FTS}_indexed"

#: members indexed per batch
BATCH = 500
#: batches the background thread indexes per turn (10,000 members every half second at most)
BATCHES_PER_TURN = 20

#: the search file's own facts: "filled" once every member of the main file was queued for it
_STATE = f"{_FTS}_state"

_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SCHEMA}.{_FTS} USING fts5(search_text, content='', tokenize='trigram')",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{_INDEXED} (member_id INTEGER PRIMARY KEY, search_text TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{_STATE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_READ_BATCH = (
    f"SELECT p.member_id, p.seq, m.search_text, i.search_text FROM main.{PENDING} p"
    f" LEFT JOIN main.members m ON m.id = p.member_id"
    f" LEFT JOIN {SCHEMA}.{_INDEXED} i ON i.member_id = p.member_id ORDER BY p.member_id LIMIT ?"
)
_FORGET = f"INSERT INTO {SCHEMA}.{_FTS}({_FTS}, rowid, search_text) VALUES ('delete', ?, ?)"
_LEARN = f"INSERT INTO {SCHEMA}.{_FTS}(rowid, search_text) VALUES (?, ?)"
_HOLD = f"INSERT OR REPLACE INTO {SCHEMA}.{_INDEXED}(member_id, search_text) VALUES (?, ?)"
_DROP = f"DELETE FROM {SCHEMA}.{_INDEXED} WHERE member_id = ?"
#: one statement, so the main file's write lock is held for it alone: the rows whose seq is as read
_DEQUEUE = (
    f"DELETE FROM main.{PENDING} WHERE member_id IN (SELECT p.member_id FROM json_each(?) j"
    f" JOIN main.{PENDING} p ON p.member_id = json_extract(j.value, '$[0]') AND p.seq = json_extract(j.value, '$[1]'))"
)


def search_path(database_path: str) -> str:
    """The search file of a database file."""
    return f"{database_path}.search"


def attach(dbapi_connection: Any, database_path: str | None, read_only: bool = False) -> None:
    """Attach the database's search file as ``search`` (made if missing) to a new connection.

    A database in memory gets a search schema in memory: its members stay queued, and the
    search reads their text itself. A read-only connection (opened with a URI) attaches the
    file read-only.
    """
    if database_path is None:
        target = ":memory:"
    elif read_only:
        target = f"file:{search_path(database_path)}?mode=ro"
    else:
        target = search_path(database_path)
    dbapi_connection.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (target,)).close()
    if not read_only:
        dbapi_connection.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL").close()
        for statement in _CREATE:
            dbapi_connection.execute(statement).close()
    dbapi_connection.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL").close()


def attached(connection: sqlite3.Connection) -> bool:
    """Whether the connection has a search schema attached."""
    return any(row[1] == SCHEMA for row in connection.execute("PRAGMA database_list"))


def _queue_exists(connection: sqlite3.Connection) -> bool:
    found = connection.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", (PENDING,))
    return found.fetchone() is not None


def pending(connection: sqlite3.Connection) -> bool:
    """Whether members wait to be indexed (a read); False before migration 0011."""
    if not _queue_exists(connection):
        return False
    return connection.execute(f"SELECT 1 FROM main.{PENDING} LIMIT 1").fetchone() is not None


def index_batch(connection: sqlite3.Connection, in_turn: Callable[[Callable[[], int]], int], limit: int = BATCH) -> int:
    """Index up to ``limit`` queued members; returns how many were read (0: the queue is empty).

    ``connection`` has the search file attached and is in autocommit mode. The index is written in
    a transaction of the search file alone, which no request waits for; ``in_turn`` runs the one
    write of the main file (taking the members off the queue) in the process's turn to write.
    """
    connection.execute("BEGIN")  # deferred: the first write locks the search file, and only it
    try:
        rows = connection.execute(_READ_BATCH, (limit,)).fetchall()
        forget = [(member_id, held) for member_id, _seq, _text, held in rows if held is not None]
        learn = [(member_id, text) for member_id, _seq, text, _held in rows if text is not None]
        gone = [(member_id,) for member_id, _seq, text, held in rows if text is None and held is not None]
        connection.executemany(_FORGET, forget)
        connection.executemany(_LEARN, learn)
        connection.executemany(_HOLD, learn)
        connection.executemany(_DROP, gone)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    if rows:
        indexed = json.dumps([[member_id, seq] for member_id, seq, _text, _held in rows])
        in_turn(lambda: connection.execute(_DEQUEUE, (indexed,)).rowcount)
    return len(rows)


def fill_if_new(connection: sqlite3.Connection, in_turn: Callable[[Callable[[], int]], int]) -> int:
    """Queue every member once for a search file that was never filled (a new one, or one made again
    after it was lost); returns how many were queued."""
    if not _queue_exists(connection):
        return 0
    if connection.execute(f"SELECT 1 FROM {SCHEMA}.{_STATE} WHERE name = 'filled'").fetchone() is not None:
        return 0
    queue_all = f"INSERT OR IGNORE INTO main.{PENDING}(member_id, seq) SELECT id, 1 FROM main.members"
    queued = in_turn(lambda: connection.execute(queue_all).rowcount)
    # Marked after the members are queued: if the process dies between, they are queued again (no harm).
    connection.execute(f"INSERT OR REPLACE INTO {SCHEMA}.{_STATE}(name, value) VALUES ('filled', 'yes')")
    return queued


def catch_up(connection: sqlite3.Connection, in_turn: Callable[[Callable[[], int]], int]) -> int:
    """Index the queue, up to BATCHES_PER_TURN batches; returns how many members were read
    (``sqlite_writes.BackgroundWrite``).

    One process's thread indexes at a time (``<database>.search-lock``): two would read the same
    batch, and the second's write of the search file would fail on its stale read.
    """
    path = connection.execute("PRAGMA database_list").fetchone()[2]
    # Attached again at every turn: a connection keeps a file it attached even once it is removed,
    # and this one would index into a lost file what it then takes off the queue.
    if attached(connection):
        connection.execute(f"DETACH DATABASE {SCHEMA}")
    attach(connection, path)
    turn = os.open(f"{search_path(path)}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process's thread is at it, and goes on until the queue is empty
        connection.execute("PRAGMA busy_timeout=5000").close()
        fill_if_new(connection, in_turn)
        done = 0
        for _ in range(BATCHES_PER_TURN):
            if not pending(connection):
                break
            read = index_batch(connection, in_turn)
            done += read
            if read < BATCH:
                break
        return done
    finally:
        os.close(turn)
