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

* migration 0012's triggers number every change of a member's search text in the main file's
  ``member_search_changes``: one row per member, with the number of its last change (``seq``),
  counted over all the members (``member_search_numbering``). SQLite has one writer at a time, so
  a change committed later always has a higher number;
* the search file records the number it has indexed through (``member_search_progress``), and
  ``index_batch`` (a thread of each process at a lower CPU priority, ``sqlite_writes``) reads the
  changes past it, oldest first: in a transaction of the search file alone, it has the index forget
  the text it holds for each member (``member_search_indexed``), learn the member's text as it is
  now (none for a member deleted since), and moves the number on. The main file is not written,
  but to drop the rows of deleted members once the index has forgotten them: under migration 0011
  a batch took its members off a queue there, and that write held the main file's write lock for
  8.7 ms at p90 (up to 39 ms) at the thread's low priority, every request's write waiting behind it;
* until the index is through a member's change, the search reads the member's current text
  itself (``waiting``, read by ``member_list``), so a search never misses a write and never finds
  a member by words it no longer has.

The search file holds nothing but what the main file can rebuild: a missing one (or one that
recorded its number under another epoch of ``member_search_numbering``, before a downgrade) starts from 0 and
learns every member again, and a backup need not copy it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, column, select, table, text

from portal.models import SEARCH_STRUCTURES

if TYPE_CHECKING:
    from portal.infra.sqlite_writes import InTurn

#: the name every connection attaches the search file as
SCHEMA = "search"
#: every member's last change, numbered (migration 0012, main file)
CHANGES = SEARCH_STRUCTURES["changes"]
#: the numbering's last number given and its random epoch (migration 0012, main file)
NUMBERING = SEARCH_STRUCTURES["numbering"]
_FTS = SEARCH_STRUCTURES["table"]
#: what the index holds for each member: FTS5 forgets a text only when told it again
_INDEXED = f"{_FTS}_indexed"
#: the change the search file is indexed through, with the epoch of its numbering
_PROGRESS = SEARCH_STRUCTURES["progress"]

#: members indexed per batch
BATCH = 500
#: batches the background thread indexes per turn (10,000 members every half second at most)
BATCHES_PER_TURN = 20

_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SCHEMA}.{_FTS} USING fts5(search_text, content='', tokenize='trigram')",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{_INDEXED} (member_id INTEGER PRIMARY KEY, search_text TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{_PROGRESS}"
    " (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, seq INTEGER NOT NULL)",
)
#: the number the index is through: 0 for a new search file, or one numbered under another epoch (the one
#: rule of what is indexed, for the batches and for the search's ``waiting``)
_THROUGH_SEQ = (
    f"SELECT coalesce((SELECT p.seq FROM {SCHEMA}.{_PROGRESS} p JOIN main.{NUMBERING} e"
    " ON e.id = 1 AND e.epoch = p.epoch WHERE p.id = 1), 0)"
)
#: the numbering's epoch, and the number the index is through under it
_THROUGH = f"SELECT (SELECT epoch FROM main.{NUMBERING} WHERE id = 1), ({_THROUGH_SEQ})"
_READ_BATCH = (
    f"SELECT c.member_id, c.seq, m.search_text, i.search_text FROM main.{CHANGES} c"
    f" LEFT JOIN main.members m ON m.id = c.member_id"
    f" LEFT JOIN {SCHEMA}.{_INDEXED} i ON i.member_id = c.member_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?"
)
_FORGET = f"INSERT INTO {SCHEMA}.{_FTS}({_FTS}, rowid, search_text) VALUES ('delete', ?, ?)"
_LEARN = f"INSERT INTO {SCHEMA}.{_FTS}(rowid, search_text) VALUES (?, ?)"
_HOLD = f"INSERT OR REPLACE INTO {SCHEMA}.{_INDEXED}(member_id, search_text) VALUES (?, ?)"
_DROP = f"DELETE FROM {SCHEMA}.{_INDEXED} WHERE member_id = ?"
_MOVE_ON = f"INSERT OR REPLACE INTO {SCHEMA}.{_PROGRESS}(id, epoch, seq) VALUES (1, ?, ?)"
#: the deleted members the index forgot, unless one was numbered again since (a new member given its id)
_FORGOTTEN = (
    f"DELETE FROM main.{CHANGES} WHERE member_id IN (SELECT c.member_id FROM json_each(?) j"
    f" JOIN main.{CHANGES} c ON c.member_id = json_extract(j.value, '$[0]') AND c.seq = json_extract(j.value, '$[1]'))"
)


_changes = table(CHANGES, column("member_id"), column("seq"))


def waiting() -> Select[Any]:
    """The ids of the members whose current search text the index does not hold yet (a subquery for the
    search, ``member_list``), read through the index on ``seq``: their last change is past the number the
    search file is indexed through."""
    return select(_changes.c.member_id).where(_changes.c.seq > text(f"({_THROUGH_SEQ})"))


def search_path(database_path: str) -> str:
    """The search file of a database file."""
    return f"{database_path}.search"


def attach(dbapi_connection: Any, database_path: str | None, read_only: bool = False) -> None:
    """Attach the database's search file as ``search`` (made if missing) to a new connection.

    A database in memory gets a search schema in memory: its members wait for ever, and the
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


def _numbered(connection: sqlite3.Connection) -> bool:
    """Whether the main file numbers the changes (migration 0012 or later)."""
    found = connection.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", (CHANGES,))
    return found.fetchone() is not None


def index_batch(connection: sqlite3.Connection, in_turn: InTurn, limit: int = BATCH) -> int:
    """Index up to ``limit`` changes past the search file's number; returns how many were read (0: the
    index is up to date).

    ``connection`` has the search file attached and is in autocommit mode, and its caller is the one
    writer of the search file (``catch_up``'s turn). The batch is read from one snapshot of both files,
    and that read ends before the index is written: a RESTART of the main file's log waits, holding the
    write lock, for every reader still on the log, and writing the index takes 40 to 90 ms under load,
    which every request's write waited through. The index and its number are then written in one
    transaction of the search file alone. A change committed since the read has a higher number, so
    it is left for the next batch. ``in_turn`` runs the one write of the main file, when the batch met
    deleted members (dropping their rows), in the process's turn to write.
    """
    connection.execute("BEGIN")
    try:
        epoch, through = connection.execute(_THROUGH).fetchone()
        rows = connection.execute(_READ_BATCH, (through, limit)).fetchall()
    finally:
        connection.execute("COMMIT")
    if not rows:
        return 0
    forget = [(member_id, held) for member_id, _seq, _text, held in rows if held is not None]
    learn = [(member_id, text) for member_id, _seq, text, _held in rows if text is not None]
    gone = [(member_id,) for member_id, _seq, text, held in rows if text is None and held is not None]
    connection.execute("BEGIN")
    try:
        connection.executemany(_FORGET, forget)
        connection.executemany(_LEARN, learn)
        connection.executemany(_HOLD, learn)
        connection.executemany(_DROP, gone)
        connection.execute(_MOVE_ON, (epoch, rows[-1][1]))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    deleted = [[member_id, seq] for member_id, seq, text, _held in rows if text is None]
    if deleted:
        in_turn(lambda: connection.execute(_FORGOTTEN, (json.dumps(deleted),)).rowcount)
    return len(rows)


def catch_up(connection: sqlite3.Connection, in_turn: InTurn) -> int:
    """Index the changes past the search file's number, up to BATCHES_PER_TURN batches; returns how
    many were read (``sqlite_writes.BackgroundWrite``).

    One process's thread indexes at a time (``<database>.search-lock``): ``index_batch`` reads its
    batch before it writes, so two at once would both read the same batch and both write it, and the
    index would learn those members twice.
    """
    if not _numbered(connection):
        return 0  # before migration 0012
    path = connection.execute("PRAGMA database_list").fetchone()[2]
    # Attached again at every turn: a connection keeps a file it attached even once it is removed,
    # and this one would go on indexing into a lost file.
    if attached(connection):
        connection.execute(f"DETACH DATABASE {SCHEMA}")
    attach(connection, path)
    turn = os.open(f"{search_path(path)}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process's thread is at it, and goes on until the index is up to date
        connection.execute("PRAGMA busy_timeout=5000").close()
        done = 0
        for _ in range(BATCHES_PER_TURN):
            read = index_batch(connection, in_turn)
            done += read
            if read < BATCH:
                break
        return done
    finally:
        os.close(turn)
