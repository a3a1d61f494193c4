"""The read API's queries (reads only): every list is one keyset page on the row id, in SQL, with what its
documents show loaded in bulk (joins, or one IN query per relation), never a query per row.

Member search and filters are the console's own (``portal.core.member_list.member_conditions``), so a
search matches the same members in both places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import joinedload

from portal.core.errors import NotFound
from portal.core.member_list import MemberFilter, member_conditions
from portal.extensions import db
from portal.models import (
    Department,
    JobTitle,
    Member,
    SyncSource,
    UserGroup,
    WorkforceType,
    group_members,
    member_departments,
)

from .schemas import STATUS_FILTER

#: what a public id can look like (a UUID, or any id of 36 characters at most): anything else names no row,
#: and is not sent to the database at all (PostgreSQL refuses a NUL in a parameter)
_PUBLIC_ID = re.compile(r"[0-9A-Za-z-]{1,36}")


def is_public_id(value: str) -> bool:
    """Whether ``value`` could be a public id."""
    return bool(_PUBLIC_ID.fullmatch(value))


def _page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], int | None]:
    """The first ``limit`` rows and the key to continue after, or None on the last page (``limit + 1`` were read)."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, key(rows[-1])
    return rows, None


# ---------------------------------------------------------------- members


_members = Member.__table__
_managers = _members.alias("managers")
_titles = JobTitle.__table__
_types = WorkforceType.__table__
_sources = SyncSource.__table__

#: a member's columns the document shows, and what it shows of its job title, type, source and manager
_MEMBER_COLUMNS = (
    *(
        _members.c[name]
        for name in (
            "id",
            "public_id",
            "external_id",
            "email",
            "name",
            "first_name",
            "last_name",
            "another_name",
            "employee_id",
            "employee_type_id",
            "work_country",
            "mobile",
            "status",
            "user_type",
            "manager_ref",
            "scim_external_id",
            "emails",
            "phone_numbers",
            "addresses",
            "custom_fields",
            "created_at",
            "updated_at",
            "version",
        )
    ),
    _titles.c.name.label("job_title"),
    _types.c.name.label("employee_type"),
    _sources.c.public_id.label("source_public_id"),
    _sources.c.name.label("source_name"),
    _managers.c.public_id.label("manager_public_id"),
    _managers.c.external_id.label("manager_user_name"),
)
_MEMBER_FROM = (
    _members.outerjoin(_titles, _titles.c.id == _members.c.job_title_id)
    .outerjoin(_types, _types.c.id == _members.c.employee_type_id)
    .outerjoin(_sources, _sources.c.id == _members.c.source_id)
    .outerjoin(_managers, _managers.c.id == _members.c.manager_id)
)


def _member_docs(*conditions: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """Members as ``MemberSchema`` reads them, in id order: one joined query for the members (their job
    title, workforce type, source and manager are many-to-one), one IN query for their departments.

    Plain rows, not ORM objects: a page of 200 costs a few milliseconds to read instead of tens.
    """
    stmt = select(*_MEMBER_COLUMNS).select_from(_MEMBER_FROM).where(*conditions).order_by(_members.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    docs = []
    for row in db.session.execute(stmt).mappings():
        doc = dict(row)
        source_id = doc.pop("source_public_id")
        doc["source"] = {"id": source_id, "name": doc.pop("source_name")} if source_id is not None else None
        manager_id, manager_user_name = doc.pop("manager_public_id"), doc.pop("manager_user_name")
        ref = doc.pop("manager_ref")
        doc["manager"] = (
            {"id": manager_id, "user_name": manager_user_name}
            if manager_id is not None
            else ({"ref": ref} if ref else None)
        )
        doc["departments"] = []
        docs.append(doc)
    if docs:
        by_id = {doc["id"]: doc for doc in docs}
        for member_id, public_id, name in db.session.execute(
            select(member_departments.c.member_id, Department.public_id, Department.name)
            .join(Department, Department.id == member_departments.c.department_id)
            .where(member_departments.c.member_id.in_(list(by_id)))
            .order_by(Department.name, Department.id)
        ):
            by_id[member_id]["departments"].append({"id": public_id, "name": name})
    return docs


def _department_id(org_id: int, public_id: str) -> int | None:
    if not is_public_id(public_id):
        return None
    return db.session.scalar(
        select(Department.id).where(Department.org_id == org_id, Department.public_id == public_id)
    )


def _source_filter(org_id: int, source: str) -> str | None:
    """The console's source filter for a source's public id ("console", or a row id), None for an unknown one."""
    if source == "console":
        return "console"
    if not is_public_id(source):
        return None
    found = db.session.scalar(select(SyncSource.id).where(SyncSource.org_id == org_id, SyncSource.public_id == source))
    return None if found is None else str(found)


@dataclass(frozen=True)
class MemberQuery:
    """The members list's filters, as the API names them (ids are public ids)."""

    department: str | None = None
    status: str | None = None
    updated_since: datetime | None = None
    source: str | None = None
    q: str = ""


def members_page(org_id: int, query: MemberQuery, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """One page of members by id after ``after``, and the id to continue after (None: the last page)."""
    department_id = None
    nothing = False
    if query.department is not None:
        department_id = _department_id(org_id, query.department)
        nothing = department_id is None
    source = ""
    if query.source is not None:
        found = _source_filter(org_id, query.source)
        nothing = nothing or found is None
        source = found or ""
    flt = MemberFilter(
        search=query.q,
        department_id=department_id,
        status=STATUS_FILTER.get(query.status or "", ""),
        source=source,
    )
    conditions = member_conditions(org_id, flt)
    if nothing:  # an id of no department or source of this organization: no member has it
        conditions.append(false())
    if query.updated_since is not None:
        conditions.append(Member.updated_at >= query.updated_since)
    if after:
        conditions.append(Member.id > after)
    return _page(_member_docs(*conditions, limit=limit + 1), limit, lambda doc: doc["id"])


def get_member(org_id: int, public_id: str) -> dict[str, Any]:
    """A member of the organization by its id, or NotFound."""
    docs = _member_docs(Member.org_id == org_id, Member.public_id == public_id) if is_public_id(public_id) else []
    if not docs:
        raise NotFound("No member has this id")
    return docs[0]


# ---------------------------------------------------------------- departments


@dataclass
class DepartmentDoc:
    """A department as the API shows it; ``children`` only in the tree."""

    id: str
    name: str
    parent_id: str | None
    path: list[str]
    #: the sync source's id and name; None for the Admin Console
    source: dict[str, str] | None
    created_at: datetime
    updated_at: datetime
    children: list[DepartmentDoc] = field(default_factory=list)


class _Tree:
    """The organization's departments in one query: (public id, parent, name) by row id, for paths."""

    def __init__(self, org_id: int) -> None:
        self.rows: dict[int, tuple[str, int | None, str]] = {
            row.id: (row.public_id, row.parent_id, row.name)
            for row in db.session.execute(
                select(Department.id, Department.public_id, Department.parent_id, Department.name).where(
                    Department.org_id == org_id
                )
            )
        }

    def path(self, dept_id: int) -> list[str]:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = dept_id
        while current is not None and current in self.rows and current not in seen:
            seen.add(current)
            _public_id, parent_id, name = self.rows[current]
            names.append(name)
            current = parent_id
        return names[::-1]

    def doc(self, dept: Department, source: dict[str, str] | None) -> DepartmentDoc:
        parent = self.rows.get(dept.parent_id) if dept.parent_id is not None else None
        return DepartmentDoc(
            id=dept.public_id,
            name=dept.name,
            parent_id=parent[0] if parent else None,
            path=self.path(dept.id),
            source=source,
            created_at=dept.created_at,
            updated_at=dept.updated_at,
        )


def _departments(
    org_id: int, *conditions: Any, limit: int | None = None
) -> list[tuple[Department, dict[str, str] | None]]:
    """Departments of the organization by id, each with its sync source's id and name (None: the console)."""
    stmt = (
        select(Department, SyncSource.public_id, SyncSource.name)
        .outerjoin(SyncSource, SyncSource.id == Department.source_id)
        .where(Department.org_id == org_id, *conditions)
        .order_by(Department.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        (dept, {"id": source_id, "name": name} if source_id is not None else None)
        for dept, source_id, name in db.session.execute(stmt)
    ]


def departments_page(org_id: int, *, after: int, limit: int) -> tuple[list[DepartmentDoc], int | None]:
    """One page of departments by id, each with its parent's id and its path."""
    rows, next_key = _page(_departments(org_id, Department.id > after, limit=limit + 1), limit, lambda r: r[0].id)
    tree = _Tree(org_id) if rows else None
    return [tree.doc(dept, source) for dept, source in rows] if tree else [], next_key


def get_department(org_id: int, public_id: str) -> DepartmentDoc:
    """A department of the organization by its id, or NotFound."""
    rows = _departments(org_id, Department.public_id == public_id) if is_public_id(public_id) else []
    if not rows:
        raise NotFound("No department has this id")
    dept, source = rows[0]
    return _Tree(org_id).doc(dept, source)


def department_tree(org_id: int) -> list[DepartmentDoc]:
    """The whole tree: the root department with its sub-departments nested, each level by name."""
    rows = _departments(org_id)
    tree = _Tree(org_id)
    docs = {dept.id: tree.doc(dept, source) for dept, source in rows}
    roots: list[DepartmentDoc] = []
    for dept, _source in sorted(rows, key=lambda r: (r[0].name_norm, r[0].id)):
        parent = docs.get(dept.parent_id) if dept.parent_id is not None else None
        (parent.children if parent is not None else roots).append(docs[dept.id])
    return roots


# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupDoc:
    """A user group with its member count, as the API shows it."""

    public_id: str
    display_name: str
    description: str | None
    scim_external_id: str | None
    #: the sync source's id and name; None for the Admin Console
    source: dict[str, str] | None
    member_count: int
    created_at: datetime
    updated_at: datetime
    version: int


def _group_docs(groups: list[UserGroup]) -> list[GroupDoc]:
    ids = [g.id for g in groups]
    counts: dict[int, int] = {}
    if ids:
        counts = {
            group_id: count
            for group_id, count in db.session.execute(
                select(group_members.c.group_id, func.count())
                .where(group_members.c.group_id.in_(ids))
                .group_by(group_members.c.group_id)
            )
        }
    return [
        GroupDoc(
            g.public_id,
            g.display_name,
            g.description,
            g.scim_external_id,
            {"id": g.source.public_id, "name": g.source.name} if g.source is not None else None,
            counts.get(g.id, 0),
            g.created_at,
            g.updated_at,
            g.version,
        )
        for g in groups
    ]


def groups_page(org_id: int, *, after: int, limit: int) -> tuple[list[GroupDoc], int | None]:
    """One page of user groups by id."""
    rows = list(
        db.session.scalars(
            select(UserGroup)
            .where(UserGroup.org_id == org_id, UserGroup.id > after)
            .order_by(UserGroup.id)
            .limit(limit + 1)
            .options(joinedload(UserGroup.source))
        )
    )
    page, next_key = _page(rows, limit, lambda g: g.id)
    return _group_docs(page), next_key


def _group(org_id: int, public_id: str) -> UserGroup:
    group = None
    if is_public_id(public_id):
        group = db.session.scalar(
            select(UserGroup)
            .where(UserGroup.org_id == org_id, UserGroup.public_id == public_id)
            .options(joinedload(UserGroup.source))
        )
    if group is None:
        raise NotFound("No group has this id")
    return group


def get_group(org_id: int, public_id: str) -> GroupDoc:
    """A user group of the organization by its id, or NotFound."""
    return _group_docs([_group(org_id, public_id)])[0]


def group_members_page(
    org_id: int, public_id: str, *, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of a group's members by member id (the membership table's primary key is the index)."""
    group = _group(org_id, public_id)
    ids = list(
        db.session.scalars(
            select(group_members.c.member_id)
            .where(group_members.c.group_id == group.id, group_members.c.member_id > after)
            .order_by(group_members.c.member_id)
            .limit(limit + 1)
        )
    )
    ids, next_key = _page(ids, limit, lambda i: i)
    if not ids:
        return [], next_key
    return _member_docs(Member.id.in_(ids), Member.org_id == org_id), next_key


# ---------------------------------------------------------------- workforce types


def workforce_types(org_id: int) -> list[WorkforceType]:
    """The organization's workforce types by name (a short list: no pages)."""
    return list(
        db.session.scalars(
            select(WorkforceType)
            .where(WorkforceType.org_id == org_id)
            .order_by(WorkforceType.name_norm, WorkforceType.id)
        )
    )
