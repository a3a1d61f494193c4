"""Uniqueness held by the database, reported as a ``Conflict`` naming the field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from portal.core.errors import Conflict
from portal.extensions import db

#: a column a unique constraint holds (as the database's message names it) -> the field a Conflict names;
#: the first that the message contains wins
_UNIQUE_COLUMNS = (
    ("scim_external_id", "externalId"),
    ("external_id_norm", "userName"),
    ("email_norm", "email"),
    ("employee_id_norm", "employeeNumber"),
    ("display_name_norm", "displayName"),
    ("name_norm", "name"),
)

#: every case-folded column: (table, column, the column it is the norm of, the columns its uniqueness is scoped by)
NORMALIZED_COLUMNS = (
    ("organizations", "name_norm", "name", ()),
    ("admins", "email_norm", "email", ()),
    ("fields", "name_norm", "name", ("org_id",)),
    ("workforce_types", "name_norm", "name", ("org_id",)),
    ("departments", "name_norm", "name", ("org_id", "parent_id")),
    ("job_titles", "name_norm", "name", ("org_id",)),
    ("user_groups", "display_name_norm", "display_name", ("org_id",)),
    ("members", "external_id_norm", "external_id", ("org_id",)),
    ("members", "email_norm", "email", ("org_id",)),
    ("members", "employee_id_norm", "employee_id", ("org_id",)),
    ("members", "name_norm", "name", None),
)


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


def norm_collisions(connection: Connection, fold: Callable[[str | None], str | None]) -> list[str]:
    """The rows that would share a unique value once their names compare by ``fold``, as lines to show.

    Reads only the plain columns (not the ``*_norm`` copies), so it runs before and after a
    change of ``models.norm``: the migration that brings one in refuses to run while this
    finds anything, and ``flask directory check-names`` lists the same lines beforehand.
    """
    lines: list[str] = []
    for table, _norm_column, column, scope in NORMALIZED_COLUMNS:
        if scope is None:
            continue
        rows = connection.execute(text(f"SELECT id, {', '.join((*scope, column))} FROM {table} ORDER BY id")).all()
        seen: dict[tuple[Any, ...], list[tuple[int, str]]] = {}
        for row in rows:
            value = row[-1]
            if value is None:
                continue
            seen.setdefault((*row[1:-1], fold(value)), []).append((row[0], value))
        for key, found in seen.items():
            if len(found) > 1:
                names = ", ".join(f"#{row_id} {value!r}" for row_id, value in found)
                where = ", ".join(f"{name}={value}" for name, value in zip(scope, key[:-1], strict=True))
                lines.append(f"{table}.{column} ({where or 'everywhere'}): {names} are one name")
    return lines
