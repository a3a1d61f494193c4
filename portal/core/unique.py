"""Uniqueness held by the database, reported as a ``Conflict`` naming the field."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.exc import IntegrityError

from portal.core.errors import Conflict
from portal.extensions import db

_UNIQUE_COLUMNS = (
    ("external_id_norm", "userName"),
    ("email_norm", "email"),
    ("employee_id", "employeeNumber"),
    ("display_name_norm", "displayName"),
    ("name_norm", "name"),
)

#: member fields a person edits in the console, with their labels


@contextmanager
def unique_flush() -> Iterator[None]:
    """Make the changes of the block, flush, and report a unique violation as ``Conflict(field=...)``.

    Autoflush is off inside the block so the violation surfaces here, where it
    can be named, and not in some lookup query. After a Conflict the session
    must be rolled back by the door: a rejected request changes nothing.
    """
    try:
        with db.session.no_autoflush:
            yield
        db.session.flush()
    except IntegrityError as exc:
        conflict = conflict_for(exc)
        if conflict is None:
            raise
        raise conflict from exc


def conflict_for(exc: IntegrityError) -> Conflict | None:
    """The Conflict naming the field whose unique constraint ``exc`` violated, or None for another violation."""
    text = str(exc.orig)
    for column, field in _UNIQUE_COLUMNS:
        if column in text:
            return Conflict(f"{field} is already taken in this organization", field=field)
    return None
