"""What a member's job title and workforce type point to: job titles found or made, workforce types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.actors import Actor
from portal.extensions import db
from portal.models import (
    JobTitle,
    WorkforceType,
    norm,
    utcnow,
)


def find_or_create_job_title(org_id: int, name: str, actor: Actor) -> tuple[JobTitle, bool]:
    """The job title named ``name`` or a new one with the actor's data source; and whether it was created."""
    found = lookup_title(org_id, name)
    (title_id, _), created = (found, False) if found is not None else make_job_title(org_id, name, actor.source_id)
    return db.session.get_one(JobTitle, title_id), created


_titles = JobTitle.__table__


def title_by_name(name: str) -> Select[Any]:
    """(id, name) of the organization's job title of a name in any case, the name as bind parameter ``name``."""
    return select(_titles.c.id, _titles.c.name).where(
        _titles.c.org_id == bindparam("org_id"), _titles.c.name_norm == bindparam(name)
    )


_TITLE_BY_NAME = title_by_name("name")


def lookup_title(org_id: int, name: str) -> tuple[int, str] | None:
    """(id, name) of the organization's job title of that name, in any case, or None."""
    row = db.session.connection().execute(_TITLE_BY_NAME, {"org_id": org_id, "name": norm(name)}).first()
    return (row[0], row[1]) if row is not None else None


_MAKE_TITLE: dict[str, Any] = {}


def make_job_title(org_id: int, name: str, source_id: int | None) -> tuple[tuple[int, str], bool]:
    """(id, name) of the job title named ``name``, made now with ``source_id`` as its data source, or the
    one a parallel request just made; and whether it was made here.

    One INSERT ... ON CONFLICT DO NOTHING, no savepoint: a SCIM PUT that names a new
    title (a reorganisation pushes hundreds) costs one statement more, not three.
    """
    name = name.strip()
    connection = db.session.connection()
    dialect = connection.dialect.name
    statement = _MAKE_TITLE.get(dialect)
    if statement is None:
        table = JobTitle.__table__
        insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _MAKE_TITLE[dialect] = (
            insert_for(table).on_conflict_do_nothing().returning(table.c.id, table.c.name)
        )
    row = connection.execute(
        statement,
        {"org_id": org_id, "name": name, "name_norm": norm(name), "source_id": source_id, "created_at": utcnow()},
    ).first()
    if row is not None:
        return (row[0], row[1]), True
    made = lookup_title(org_id, name)
    if made is None:  # cannot happen: the conflicting row is committed or ours
        raise LookupError(f"job title {name!r} neither inserted nor found")
    return made, False


def workforce_types(org_id: int) -> list[WorkforceType]:
    """The organization's workforce types by name."""
    return list(
        db.session.scalars(select(WorkforceType).where(WorkforceType.org_id == org_id).order_by(WorkforceType.name))
    )
