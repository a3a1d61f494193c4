"""Which database errors mean "busy, try again": each door answers them 503 with ``Retry-After``, not 500.

SQLite says "database is locked" when another writer held the lock past the busy timeout;
PostgreSQL gives up on a lock (``lock_timeout``), a serialization conflict or a deadlock. Nothing
of the request was kept (its transaction is rolled back), so the client may send it again.
"""

from __future__ import annotations

#: how long a client waits before it sends the request again (seconds)
RETRY_AFTER_SECONDS = 5
#: what the client is told
BUSY_DETAIL = "The database is busy; the request changed nothing. Try again in a few seconds."

#: the start of SQLite's messages when the lock stayed taken past the busy timeout
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
#: PostgreSQL SQLSTATEs: lock_not_available, serialization_failure, deadlock_detected
_POSTGRES_BUSY = frozenset({"55P03", "40001", "40P01"})


def _says_busy(error: BaseException) -> bool:
    if getattr(error, "sqlstate", None) in _POSTGRES_BUSY:
        return True
    # sqlite3.OperationalError, by name: this module imports no driver
    return type(error).__name__ == "OperationalError" and str(error).lower().startswith(_SQLITE_BUSY)


def is_busy(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it wraps (SQLAlchemy's ``orig``, Flask's 500's original, a cause), says busy."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _says_busy(current):
            return True
        todo.extend((getattr(current, "orig", None), getattr(current, "original_exception", None), current.__cause__))
    return False
