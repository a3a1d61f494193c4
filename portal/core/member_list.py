"""The Members tab's search, filters and pages, answered from indexes (reads only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.models import (
    MEMBER_STATUSES,
    Department,
    Member,
    SyncLog,
    member_departments,
)


@dataclass(frozen=True)
class MemberFilter:
    """The Members tab's search and filters, as read from the query string."""

    search: str = ""
    department_id: int | None = None
    status: str = ""
    #: "" any, "console" the Admin Console, or a sync source id
    source: str = ""


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape="\\"``: its wildcards match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def unsearchable(text: str) -> bool:
    """Whether no stored text can hold ``text``: a NUL (PostgreSQL refuses it even as a parameter) or a
    lone surrogate (not UTF-8 at all). Such a search matches nothing, on either database."""
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def _next_char(char: str) -> str | None:
    """The character after ``char`` in code point order, skipping the surrogates (no text holds one)."""
    code = ord(char) + 1
    if 0xD800 <= code <= 0xDFFF:
        code = 0xE000
    return chr(code) if code <= 0x10FFFF else None


def prefix_condition(column: Any, text: str) -> Any:
    """``column`` starts with ``text``: a range an index answers, plus LIKE for any collation's edge cases."""
    if unsearchable(text):
        return false()
    condition = and_(column >= text, column.like(escape_like(text) + "%", escape="\\"))
    after = _next_char(text[-1])
    if after is not None:
        condition = and_(condition, column < text[:-1] + after)
    return condition


def department_ids_under(org_id: int, department_id: int) -> list[int]:
    """The department and all its sub-departments (one query for the organization's tree)."""
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in db.session.execute(
        select(Department.id, Department.parent_id).where(Department.org_id == org_id)
    ):
        children.setdefault(parent_id, []).append(dept_id)
    found, todo = [], [department_id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def member_conditions(org_id: int, flt: MemberFilter) -> list[Any]:
    """WHERE conditions of the Members tab, each backed by an index of ``members``."""
    conditions: list[Any] = [Member.org_id == org_id]
    text = flt.search.strip()
    if text:
        lowered = text.lower()
        conditions.append(
            or_(
                prefix_condition(Member.name_norm, lowered),
                prefix_condition(Member.email_norm, lowered),
                prefix_condition(Member.external_id_norm, lowered),
                prefix_condition(Member.employee_id, text),
            )
        )
    if flt.status in MEMBER_STATUSES:
        conditions.append(Member.status == flt.status)
    if flt.source == "console":
        conditions.append(Member.source_id.is_(None))
    elif flt.source.isdigit():
        conditions.append(Member.source_id == int(flt.source))
    if flt.department_id is not None:
        under = department_ids_under(org_id, flt.department_id)
        conditions.append(
            Member.id.in_(select(member_departments.c.member_id).where(member_departments.c.department_id.in_(under)))
        )
    return conditions


#: up to this many matches of a search or department filter, the page sorts the matches (see list_members)
SORT_MATCHES_UP_TO = 20_000


def member_page_ids(org_id: int, flt: MemberFilter, total: int, *, limit: int, offset: int) -> Select[int]:
    """The ids of one page of the Members tab, by name, answered from indexes."""
    sort_key: Any = Member.name_norm
    if (flt.search.strip() or flt.department_id is not None) and total <= SORT_MATCHES_UP_TO:
        # Few matches: collect them through the search indexes and sort them. Ordering by the bare
        # column would let the database walk the whole name index in order, hoping to meet 50
        # matches early, which reads every member when the matches are rare or sit late in the
        # alphabet. lower() of the already lower-cased name sorts the same and cannot use that index.
        sort_key = func.lower(Member.name_norm)
    return (
        select(Member.id)
        .where(*member_conditions(org_id, flt))
        .order_by(sort_key, Member.id)
        .limit(limit)
        .offset(offset)
    )


def list_members(org_id: int, flt: MemberFilter, *, limit: int, offset: int) -> tuple[list[Member], int]:
    """A page of members by name with what the table shows loaded in bulk, and the total that match."""
    total = db.session.scalar(select(func.count(Member.id)).where(*member_conditions(org_id, flt))) or 0
    # Only the page's rows are read: a deep page does not read every row before it.
    page_ids = member_page_ids(org_id, flt, total, limit=limit, offset=offset).scalar_subquery()
    rows = db.session.scalars(
        select(Member)
        .where(Member.id.in_(page_ids))
        .options(
            selectinload(Member.departments),
            joinedload(Member.job_title),
            joinedload(Member.employee_type),
            joinedload(Member.source),
        )
        .order_by(Member.name_norm, Member.id)
    ).unique()
    return list(rows), total


def member_sync_log(member: Member, limit: int = 10) -> list[SyncLog]:
    """The member's latest sync log entries (by its SCIM id), newest first."""
    return list(
        db.session.scalars(
            select(SyncLog)
            .options(joinedload(SyncLog.source))
            .where(SyncLog.org_id == member.org_id, SyncLog.object_id == member.public_id)
            .order_by(SyncLog.created_at.desc(), SyncLog.id.desc())
            .limit(limit)
        )
    )
