"""The Members tab's search, sort, filters, pages and CSV export, answered from indexes (reads only).

Search (``search_condition``, also the read API's): a query of 3 characters or more (folded) is
found anywhere in ``members.search_text`` (name, email, employee ID, userName and job title,
accent-folded: ``models.member_search_text``) through SQLite's FTS5 trigram table ``member_search``
or PostgreSQL's trigram index, or is a member's whole SCIM id; a shorter one matches the start of a
name, email, userName or employee ID, as trigrams need 3 characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, column, false, func, or_, select, table, union_all
from sqlalchemy.orm import joinedload, selectinload

from portal.core.members import looked_up
from portal.extensions import db
from portal.infra import search_index
from portal.models import (
    MEMBER_STATUSES,
    SEARCH_STRUCTURES,
    Department,
    JobTitle,
    Member,
    SyncLog,
    SyncSource,
    WorkforceType,
    fold,
    member_departments,
    norm,
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


#: the shortest (folded) search found anywhere in a value: a trigram index needs 3 characters
CONTAINS_FROM = 3
#: SQLite's FTS5 table of the members' search text, in the search file (``portal.infra.search_index``): its
#: rowid is the member's id, and the column named after the table takes a MATCH query
_fts = table(SEARCH_STRUCTURES["table"], column("rowid"), column(SEARCH_STRUCTURES["table"]), schema="search")


def _fts_phrase(folded: str) -> str:
    """An FTS5 query of ``folded`` as one phrase: with the trigram tokenizer, the rows holding it anywhere."""
    return '"' + folded.replace('"', '""') + '"'


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _member_id(walk: bool) -> Any:
    """``members.id`` to test against a set of matches. ``walk`` (SQLite): as an expression no index
    answers, so SQLite walks the sort's index and tests each row until the page is full, instead of
    looking every match up and sorting them all (it prefers that whatever their number)."""
    return Member.id + 0 if walk and _sqlite() else Member.id


def _ids_in(org_id: int, member_id: Any, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition`` as is, or for a walk, as ``member_id IN (the ids it finds through its own indexes)``."""
    if member_id is Member.id:
        return condition
    found = select(Member.id).where(Member.org_id == org_id, condition).correlate(None)
    return member_id.in_(found)  # type: ignore[no-any-return]


def _contains(folded: str, scim_id: str, member_id: Any) -> ColumnElement[bool]:
    """The members whose search text holds ``folded``, or whose SCIM id is ``scim_id``, through indexes."""
    pattern = "%" + escape_like(folded) + "%"
    if _sqlite():
        # One IN over a UNION: SQLite looks the few ids up by rowid (an OR would scan the organization).
        # The index (a file of its own, attached as "search") answers for the members it is up to date
        # for; the text of the few it is not is read as it is now (a batch indexes them within a second).
        unindexed = search_index.waiting()
        found = union_all(
            select(_fts.c.rowid).where(
                _fts.c[SEARCH_STRUCTURES["table"]].op("MATCH")(_fts_phrase(folded)), _fts.c.rowid.not_in(unindexed)
            ),
            # The waiting ids drive: each is looked up by id (a join let SQLite scan the members).
            select(Member.id).where(Member.id.in_(unindexed), Member.search_text.like(pattern, escape="\\")),
            select(Member.id).where(Member.public_id == scim_id),
        )
        return member_id.in_(found)  # type: ignore[no-any-return]
    # PostgreSQL: the GIN trigram index answers LIKE '%...%' (backslash is LIKE's default escape there).
    return or_(Member.search_text.like(pattern), Member.public_id == scim_id)


def _search(org_id: int, text: str, member_id: Any = Member.id) -> ColumnElement[bool]:
    """The condition of a search (stripped, not empty) over one organization's members."""
    if unsearchable(text):
        return false()
    folded = fold(text)
    if len(folded) >= CONTAINS_FROM:
        # A SCIM id is matched whole: as a "contains" over hex digits, "e0999" would find random ids.
        return _contains(folded, text.lower(), member_id)
    # The starts of the four values, each through the organization's index of its folded copy: the
    # database answers the OR as a union of four index ranges.
    normed = norm(text)
    if not normed:  # nothing but characters that print as nothing: no value holds it
        return false()
    starts = or_(
        prefix_condition(Member.name_norm, normed),
        prefix_condition(Member.email_norm, normed),
        prefix_condition(Member.external_id_norm, normed),
        prefix_condition(Member.employee_id_norm, normed),
    )
    return _ids_in(org_id, member_id, starts)


def search_condition(org_id: int, q: str) -> ColumnElement[bool]:
    """The organization's members a search ``q`` finds (every member for an empty one), index-backed: the
    Members tab's, its CSV export's and the read API's search (see the module's docstring)."""
    text = q.strip()
    return and_(Member.org_id == org_id, _search(org_id, text)) if text else Member.org_id == org_id


def member_conditions(org_id: int, flt: MemberFilter, *, walk: bool = False) -> list[Any]:
    """WHERE conditions of the Members tab, each backed by an index of ``members``. ``walk``: the page is
    read in the order of an index of ``members``, testing each row (see ``_member_id``)."""
    conditions: list[Any] = [Member.org_id == org_id]
    member_id = _member_id(walk)
    text = flt.search.strip()
    if text:
        conditions.append(_search(org_id, text, member_id))
    if flt.status in MEMBER_STATUSES:
        conditions.append(Member.status == flt.status)
    if flt.source == "console":
        conditions.append(Member.source_id.is_(None))
    elif flt.source.isdigit():
        conditions.append(Member.source_id == int(flt.source))
    if flt.department_id is not None:
        under = department_ids_under(org_id, flt.department_id)
        conditions.append(
            member_id.in_(select(member_departments.c.member_id).where(member_departments.c.department_id.in_(under)))
        )
    return conditions


#: up to this many matches of a search or department filter, the page sorts the matches; past it, the page
#: walks the sort's index until it has its rows. Spread through the alphabet, the matches cost a walk about
#: (members / matches) rows per row shown; sitting together (a prefix search's all start alike, a
#: department's members can), every member before them. PostgreSQL probes the table or another index
#: for each row it walks: it sorts up to 20,000 matches, in about the time of a walk over 100,000 members
#: (bench/members_page.py), and walks past them.
SORT_MATCHES_UP_TO = 20_000
#: the same where a walk is cheap: on SQLite, whose walk stays in a covering index and probes an in-memory
#: list of the matches (a whole walk costs about a sort of 2,000 matches read from the table), and for a
#: "contains" search on PostgreSQL, whose matches are spread through the alphabet
WALK_PAST = 2_000
#: the Members tab's orders (``?sort=``): by name (the default), by name descending, by department, by status
SORTS = ("name", "-name", "department", "status")


def sort_keys(sort: str, narrow: bool) -> list[Any]:
    """ORDER BY of a sort (``SORTS``; anything else is by name), name and id breaking ties.

    An index (org_id, name_norm, id), (org_id, status, name_norm, id) or (org_id, department_sort,
    name_norm, id) gives the order, and a page reads its rows only. ``narrow``: few matches of a search or department
    filter, collected through their own indexes and then sorted. Ordering by the bare column would
    let the database walk the whole name index in order, hoping to meet 50 matches early, which
    reads every member when the matches are rare or sit late in the alphabet. lower() of the
    already lower-cased value sorts the same and cannot use that index. By department: the first
    department's name (``department_sort``, its own index), members in none first.
    """
    name: Any = func.lower(Member.name_norm) if narrow else Member.name_norm
    if sort == "-name":
        return [name.desc(), Member.id.desc()]
    if sort in ("status", "department"):
        column = Member.status if sort == "status" else Member.department_sort
        return [func.lower(column) if narrow else column, name, Member.id]
    return [name, Member.id]


def _narrow(flt: MemberFilter, total: int) -> bool:
    """Whether the page sorts the matches (see ``sort_keys``)."""
    text = flt.search.strip()
    if not text and flt.department_id is None:
        return False
    cheap_walk = _sqlite() or (len(fold(text)) >= CONTAINS_FROM and flt.department_id is None)
    return total <= (WALK_PAST if cheap_walk else SORT_MATCHES_UP_TO)


def member_page_ids(
    org_id: int, flt: MemberFilter, total: int, *, limit: int, offset: int, sort: str = "name"
) -> Select[Any]:
    """The ids of one page of the Members tab in the ``sort`` order, answered from indexes."""
    narrow = _narrow(flt, total)
    walk = not narrow and bool(flt.search.strip() or flt.department_id is not None)
    return (
        select(Member.id)
        .where(*member_conditions(org_id, flt, walk=walk))
        .order_by(*sort_keys(sort, narrow))
        .limit(limit)
        .offset(offset)
    )


def list_members(
    org_id: int, flt: MemberFilter, *, limit: int, offset: int, sort: str = "name"
) -> tuple[list[Member], int]:
    """A page of members in the ``sort`` order with what the table shows loaded in bulk, and the total that
    match."""
    total = db.session.scalar(select(func.count(Member.id)).where(*member_conditions(org_id, flt))) or 0
    # Only the page's rows are read: a deep page does not read every row before it.
    page_ids = list(db.session.scalars(member_page_ids(org_id, flt, total, limit=limit, offset=offset, sort=sort)))
    if not page_ids:
        return [], total
    rows = db.session.scalars(
        select(Member)
        .where(Member.id.in_(page_ids))
        .options(
            selectinload(Member.departments),
            joinedload(Member.job_title),
            joinedload(Member.employee_type),
            joinedload(Member.source),
        )
    ).unique()
    place = {member_id: i for i, member_id in enumerate(page_ids)}
    return sorted(rows, key=lambda member: place[member.id]), total


class ExportRow(NamedTuple):
    """A member as the Members CSV export writes it."""

    name: str
    email: str | None
    user_name: str
    employee_id: str | None
    departments: list[str]
    job_title: str | None
    workforce_type: str | None
    status: str
    #: the sync source's name; None for the Admin Console
    source: str | None
    scim_id: str


#: members read per statement of an export
EXPORT_BATCH = 500


def export_members(org_id: int, flt: MemberFilter, sort: str = "name") -> Iterator[ExportRow]:
    """Every member the Members tab shows for ``flt``, in the ``sort`` order, read as the rows are written:
    their ids first, then two statements per ``EXPORT_BATCH`` members (never one per member)."""
    ids = list(
        db.session.scalars(
            select(Member.id).where(*member_conditions(org_id, flt)).order_by(*sort_keys(sort, narrow=True))
        )
    )
    for start in range(0, len(ids), EXPORT_BATCH):
        batch = ids[start : start + EXPORT_BATCH]
        departments: dict[int, list[str]] = {}
        for member_id, name in db.session.execute(
            select(member_departments.c.member_id, Department.name)
            .join(Department, Department.id == member_departments.c.department_id)
            .where(member_departments.c.member_id.in_(batch))
            .order_by(member_departments.c.member_id, Department.name)
        ):
            departments.setdefault(member_id, []).append(name)
        rows = {
            row.id: row
            for row in db.session.execute(
                select(
                    Member.id,
                    Member.name,
                    Member.email,
                    Member.external_id,
                    Member.employee_id,
                    looked_up(JobTitle.name, JobTitle.id == Member.job_title_id).label("job_title"),
                    looked_up(WorkforceType.name, WorkforceType.id == Member.employee_type_id).label("workforce_type"),
                    Member.status,
                    looked_up(SyncSource.name, SyncSource.id == Member.source_id).label("source"),
                    Member.public_id,
                ).where(Member.id.in_(batch))
            )
        }
        for member_id in batch:
            row = rows.get(member_id)
            if row is not None:  # gone since the ids were read
                yield ExportRow(
                    row.name,
                    row.email,
                    row.external_id,
                    row.employee_id,
                    departments.get(member_id, []),
                    row.job_title,
                    row.workforce_type,
                    row.status,
                    row.source,
                    row.public_id,
                )


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
