"""Members and groups written straight into the database, so query tests do not depend on SCIM writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from portal.extensions import db
from portal.models import Department, JobTitle, Member, SyncSource, UserGroup


def _named(model: Any, org_id: int, name: str, **extra: Any) -> Any:
    found = db.session.scalar(select(model).where(model.org_id == org_id, model.name_norm == name.lower()))
    if found is None:
        found = model(org_id=org_id, name=name, **extra)
        db.session.add(found)
        db.session.flush()
    return found


def add_member(
    org_id: int,
    source_id: int | None,
    user_name: str,
    *,
    department: str | None = None,
    title: str | None = None,
    manager: Member | None = None,
    **fields: Any,
) -> Member:
    """A member managed by ``source_id`` whose userName and email are ``user_name`` (flushed, not committed)."""
    fields.setdefault("name", user_name.split("@")[0].title())
    member = Member(
        org_id=org_id,
        source_id=source_id,
        external_id=user_name,
        email=fields.pop("email", user_name),
        manager=manager,
        **fields,
    )
    if title:
        member.job_title = _named(JobTitle, org_id, title)
    if department:
        root = db.session.scalar(select(Department).where(Department.org_id == org_id, Department.parent_id.is_(None)))
        member.departments = [_named(Department, org_id, department, parent_id=root.id)]
    db.session.add(member)
    db.session.flush()
    return member


def add_group(
    org_id: int, source_id: int | None, display_name: str, members: list[Member] = (), **fields: Any
) -> UserGroup:
    """A user group managed by ``source_id`` with ``members`` (flushed, not committed)."""
    group = UserGroup(org_id=org_id, source_id=source_id, display_name=display_name, members=list(members), **fields)
    db.session.add(group)
    db.session.flush()
    return group


def source_row(public_id: str) -> SyncSource:
    """The sync source with this SCIM id (inside an app context)."""
    return db.session.scalar(select(SyncSource).where(SyncSource.public_id == public_id))


def scim_body(response: Any) -> Any:
    """The JSON body of a SCIM response, which must be ``application/scim+json``."""
    assert response.mimetype == "application/scim+json", response.get_data(as_text=True)
    return response.get_json(force=True)


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
