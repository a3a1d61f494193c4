"""A member's record and its one writer: both doors call this module to change a member.

It owns what a member row is made of: normalization (``models.MEMBER_NORMS``),
the uniqueness keys, the references (department, job title, manager, workforce
type), the INSERT, UPDATE and DELETE statements, and the snapshot written to the
Admin log and the Sync log. The console door calls ``create_member`` and its
siblings below; the SCIM door goes through ``portal.core.provisioning``, which
adds a source's matching, linking and deletion rule on top of the same
``resolve_refs``, ``assign``, ``insert_record``, ``update_record`` and
``delete_record``.

Writes are SQL Core statements on ``MemberRecord``s: an identity provider's
initial sync is a lookup and a create per user, and the ORM's identity map, unit
of work and relationship loaders cost several times the SQL itself on these
requests (BENCHMARKS.md, "CPU cost per request"). The console still reads
members through the ORM (``Member``); after a write here its objects are
expired, so it reads what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    bindparam,
    delete,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.orm.exc import StaleDataError

from portal.core import admin_log, contact, events
from portal.core.actors import Actor
from portal.core.departments import department_by_name, find_or_create_department, lookup_department
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.fields import FIELD_LABELS, custom_field_values
from portal.core.text import text_problem
from portal.core.unique import conflict_for
from portal.core.workforce import lookup_title, make_job_title, title_by_name
from portal.extensions import db
from portal.infra.prepared import Prepared
from portal.models import (
    MEMBER_NORMS,
    Department,
    JobTitle,
    Member,
    SyncSource,
    UserGroup,
    WorkforceType,
    group_members,
    member_departments,
    member_search_text,
    new_public_id,
    norm,
    utcnow,
)

_T = TypeVar("_T")

_members = Member.__table__
_titles = JobTitle.__table__
_types = WorkforceType.__table__
_departments = Department.__table__
_groups = UserGroup.__table__
_managers = _members.alias("manager")
# Aliased in the records' lookups, so a filter's EXISTS over job_titles still correlates to members only.
_member_title = _titles.alias("member_title")
_member_type = _types.alias("member_type")

#: the member columns a SCIM request sets (besides status, title, type, manager and departments)
PLAIN_FIELDS = (
    "external_id",
    "email",
    "name",
    "first_name",
    "last_name",
    "another_name",
    "employee_id",
    "user_type",
    "work_country",
    "mobile",
    "scim_external_id",
    "emails",
    "phone_numbers",
    "addresses",
)
#: the columns a create is matched on (``userName`` and the sources' match attributes), as stored
MATCH_COLUMNS = {
    "userName": _members.c.external_id_norm,
    "email": _members.c.email_norm,
    "employee_id": _members.c.employee_id_norm,
    "mobile": _members.c.mobile,
    "scim_external_id": _members.c.scim_external_id,
}
#: the match attributes whose stored column is the ``norm`` of the value
NORMALIZED_MATCHES = frozenset({"userName", "email", "employee_id"})


@dataclass(slots=True)
class MemberRecord:
    """One member with what its SCIM representation and sync log rows show."""

    id: int
    public_id: str
    org_id: int
    source_id: int | None
    external_id: str
    email: str | None
    name: str
    first_name: str | None
    last_name: str | None
    another_name: str | None
    employee_id: str | None
    user_type: str | None
    work_country: str | None
    mobile: str | None
    scim_external_id: str | None
    manager_ref: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    version: int
    job_title_id: int | None
    employee_type_id: int | None
    manager_id: int | None
    job_title: str | None
    employee_type: str | None
    manager_public_id: str | None
    manager_name: str | None
    manager_external_id: str | None
    #: the multi-valued attributes as sent (None: none sent); email, mobile and work_country derive from them
    emails: list[dict[str, Any]] | None = None
    phone_numbers: list[dict[str, Any]] | None = None
    addresses: list[dict[str, Any]] | None = None
    #: (id, name) by name
    departments: list[tuple[int, str]] = field(default_factory=list)
    #: (public id, display name) by display name
    groups: list[tuple[str, str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def department_names(self) -> list[str]:
        return [name for _, name in self.departments]

    def snapshot(self) -> dict[str, Any]:
        """The member's fields as plain values: what the Admin log's and the Sync log's changes compare."""
        return {
            "external_id": self.external_id,
            "email": self.email,
            "name": self.name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "another_name": self.another_name,
            "employee_id": self.employee_id,
            "employee_type": self.employee_type,
            "job_title": self.job_title,
            "departments": self.department_names,
            "work_country": self.work_country,
            "mobile": self.mobile,
            "status": self.status,
        }

    def state(self) -> dict[str, Any]:
        """The member as the sync log shows it: the snapshot plus the SCIM-only values."""
        out = self.snapshot()
        out.update(
            user_type=self.user_type,
            manager=self.manager_external_id if self.manager_id is not None else self.manager_ref,
            scim_external_id=self.scim_external_id,
            emails=self.emails,
            phone_numbers=self.phone_numbers,
            addresses=self.addresses,
        )
        return out

    def columns(self) -> dict[str, Any]:
        """The values of the ``members`` columns a write may change."""
        out = {key: getattr(self, key) for key in PLAIN_FIELDS}
        for key, norm_key in MEMBER_NORMS.items():
            out[norm_key] = norm(out[key])
        out.update(
            status=self.status,
            job_title_id=self.job_title_id,
            employee_type_id=self.employee_type_id,
            manager_id=self.manager_id,
            manager_ref=self.manager_ref,
            source_id=self.source_id,
            # The Members search's text and department order: written with the values they are made of.
            search_text=member_search_text(self.name, self.email, self.employee_id, self.external_id, self.job_title),
            department_sort=min((norm(name) for _, name in self.departments), default=""),
        )
        return out


def looked_up(column: ColumnElement[Any] | QueryableAttribute[Any], by_id: ColumnElement[bool]) -> Any:
    """``column`` of the row ``by_id`` names for each member (its job title's name, its manager's id ...), as
    a subquery correlated to ``members`` and not an outer join: SQLite plans a join by statistics, and
    statistics taken while a table was small (one job title) made it scan that table for every member once
    it had grown (225 µs a member at 5,000 titles, BENCHMARKS.md); a subquery on the primary key is always
    looked up by it."""
    return select(column).where(by_id).correlate(_members).scalar_subquery()


_RECORD_COLUMNS = (
    _members.c.id,
    _members.c.public_id,
    _members.c.org_id,
    _members.c.source_id,
    _members.c.external_id,
    _members.c.email,
    _members.c.name,
    _members.c.first_name,
    _members.c.last_name,
    _members.c.another_name,
    _members.c.employee_id,
    _members.c.user_type,
    _members.c.work_country,
    _members.c.mobile,
    _members.c.scim_external_id,
    _members.c.manager_ref,
    _members.c.status,
    _members.c.created_at,
    _members.c.updated_at,
    _members.c.version,
    _members.c.job_title_id,
    _members.c.employee_type_id,
    _members.c.manager_id,
    looked_up(_member_title.c.name, _member_title.c.id == _members.c.job_title_id),
    looked_up(_member_type.c.name, _member_type.c.id == _members.c.employee_type_id),
    looked_up(_managers.c.public_id, _managers.c.id == _members.c.manager_id),
    looked_up(_managers.c.name, _managers.c.id == _members.c.manager_id),
    looked_up(_managers.c.external_id, _managers.c.id == _members.c.manager_id),
    _members.c.emails,
    _members.c.phone_numbers,
    _members.c.addresses,
)


def _related(member_is: Callable[[Any], ColumnElement[bool]]) -> CompoundSelect[Any]:
    """Departments and groups of the members ``member_is`` picks, in one statement, in the ORM relationships' order."""
    return union_all(
        select(
            member_departments.c.member_id,
            literal(0).label("kind"),
            _departments.c.name.label("label"),
            _departments.c.id.label("department_id"),
            _departments.c.public_id.label("public_id"),
        )
        .join(_departments, _departments.c.id == member_departments.c.department_id)
        .where(member_is(member_departments.c.member_id)),
        select(
            group_members.c.member_id,
            literal(1).label("kind"),
            _groups.c.display_name.label("label"),
            null().label("department_id"),
            _groups.c.public_id.label("public_id"),
        )
        .join(_groups, _groups.c.id == group_members.c.group_id)
        .where(member_is(group_members.c.member_id)),
    ).order_by("member_id", "kind", "label")


#: a page of members
_RELATED = _related(lambda member_id: member_id.in_(bindparam("ids", expanding=True)))
#: one member (every SCIM write, GET and lookup): an expanding IN is rendered again at every execution,
#: which cost a GET 2% of its instructions (BENCHMARKS.md)
_RELATED_ONE = _related(lambda member_id: member_id == bindparam("id"))


def select_records(*conditions: ColumnElement[bool]) -> Select[Any]:
    """A SELECT of member records (add ORDER BY, OFFSET and LIMIT, then ``fetch`` it)."""
    return select(*_RECORD_COLUMNS).where(*conditions)


def fetch(statement: Select[Any], params: dict[str, Any] | None = None) -> list[MemberRecord]:
    """The records a ``select_records`` statement finds, with their departments and groups (two statements)."""
    connection = db.session.connection()
    records = [MemberRecord(*row) for row in connection.execute(statement, params)]
    if records:
        by_id = {record.id: record for record in records}
        seen_departments = []
        related = (
            connection.execute(_RELATED_ONE, {"id": records[0].id})
            if len(records) == 1
            else connection.execute(_RELATED, {"ids": list(by_id)})
        )
        for member_id, kind, label, department_id, public_id in related:
            if kind == 0:
                by_id[member_id].departments.append((department_id, label))
                seen_departments.append((department_id, public_id, label))
            else:
                by_id[member_id].groups.append((public_id, label))
        # The events of a change to these members name their departments by public id: no lookup then.
        events.remember_departments(seen_departments)
    return records


# Prepared once: building a statement costs more than running it on these hot paths.
_BY_PUBLIC_ID = select_records(
    _members.c.public_id == bindparam("public_id"),
    _members.c.org_id == bindparam("org_id"),
    _members.c.source_id == bindparam("source_id"),
)
_BY_USER_NAME = select_records(
    _members.c.external_id_norm == bindparam("name"),
    _members.c.org_id == bindparam("org_id"),
    _members.c.source_id == bindparam("source_id"),
)
_BY_ID = select_records(_members.c.id == bindparam("id"))


def get(org_id: int, source_id: int, public_id: str) -> MemberRecord | None:
    """The member a source manages, by SCIM id."""
    found = fetch(_BY_PUBLIC_ID, {"public_id": public_id, "org_id": org_id, "source_id": source_id})
    return found[0] if found else None


def by_user_name(org_id: int, source_id: int, user_name: str) -> list[MemberRecord]:
    """The member a source manages with this userName (any case), as a page of zero or one."""
    return fetch(_BY_USER_NAME, {"name": norm(user_name), "org_id": org_id, "source_id": source_id})


def get_by_id(member_id: int) -> MemberRecord | None:
    """A member by its primary key."""
    found = fetch(_BY_ID, {"id": member_id})
    return found[0] if found else None


def first_matching(org_id: int, attribute: str, value: Any) -> MemberRecord | None:
    """The oldest member of the organization whose match attribute (``MATCH_COLUMNS``, as stored) has this value."""
    found = fetch(
        select_records(MATCH_COLUMNS[attribute] == value, _members.c.org_id == org_id).order_by(_members.c.id).limit(1)
    )
    return found[0] if found else None


#: built once: a statement made per call would have its cache key and dialect options worked out again at
#: every execution (1.4% of a create's instructions, by callgrind)
_INSERT = Prepared(insert(_members))
_INSERT_DEPARTMENTS = Prepared(insert(member_departments))
_DELETE_DEPARTMENTS = Prepared(
    delete(member_departments).where(member_departments.c.member_id == bindparam("_member_id"))
)
_DELETE_GROUP_MEMBERSHIPS = Prepared(delete(group_members).where(group_members.c.member_id == bindparam("_member_id")))


def _created(record: MemberRecord, actor: Actor) -> events.Change:
    return events.Change("member.created", "member", record.public_id, events.member_attributes(record, actor))


def insert_record(record: MemberRecord, actor: Actor, refs: Refs | None = None) -> int:
    """INSERT a new member (its ``departments`` too) and its member.created event; returns its primary key.

    ``refs``: as ``resolve_refs`` gave them; a job title it left to make is made first (``defer_new_title``).
    """
    # The event is built before the first write: from it to COMMIT, every other writer waits.
    created = _created(record, actor)
    if refs is not None and refs.new_title is not None and _make_new_title(refs, record):
        created = _created(record, actor)
    values = record.columns()
    values.update(
        public_id=record.public_id,
        org_id=record.org_id,
        source_id=record.source_id,
        custom_fields={},
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=record.version,
    )
    connection = db.session.connection()
    member_id = _INSERT.insert(connection, values)
    _INSERT_DEPARTMENTS.execute_many(
        connection, [{"member_id": member_id, "department_id": d} for d, _ in record.departments]
    )
    events.record(record.org_id, actor, created)
    return int(member_id)


#: prepared UPDATEs by the set of columns they write: SQLite rewrites every index holding a
#: column named in SET, changed or not, so an UPDATE names only the columns that changed
_UPDATES: dict[tuple[str, ...], Prepared] = {}


def _update_statement(names: tuple[str, ...]) -> Prepared:
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = Prepared(
            update(_members)
            .where(_members.c.id == bindparam("_id"), _members.c.version == bindparam("_version"))
            .values({name: bindparam(name) for name in (*names, "version", "updated_at")})
        )
    return statement


def update_record(
    before: MemberRecord, after: MemberRecord, now: datetime, actor: Actor, refs: Refs | None = None
) -> MemberRecord:
    """Write what changed from ``before`` to ``after`` (columns, departments); returns the record as stored.

    A change bumps the version and ``updated_at``, as the ORM's version counter and
    ``onupdate`` do, and records its event (updated, suspended or reactivated); no change
    writes nothing. The UPDATE names the version it read: one that lost a race raises
    StaleDataError, so the door runs it again or answers 412. ``refs``: as ``resolve_refs``
    gave them; a job title it left to make is made first (``defer_new_title``).
    """
    old = before.columns()

    def changed_columns() -> dict[str, Any]:
        return {key: value for key, value in after.columns().items() if old[key] != value}

    changed = changed_columns()
    departments_changed = [d for d, _ in before.departments] != [d for d, _ in after.departments]
    new_title = refs is not None and refs.new_title is not None
    if not changed and not departments_changed and not new_title:
        return after
    # The event is built before the first write: from it to COMMIT, every other writer waits.
    change = events.member_change(before, after, actor)
    if new_title:
        assert refs is not None
        if _make_new_title(refs, after):  # made first by a parallel request, in another case
            change = events.member_change(before, after, actor)
            changed = changed_columns()
        else:
            changed["job_title_id"] = after.job_title_id
    connection = db.session.connection()
    result = _update_statement(tuple(changed)).execute(
        connection,
        {**changed, "_id": before.id, "_version": before.version, "version": before.version + 1, "updated_at": now},
    )
    if result.rowcount != 1:
        raise StaleDataError(f"members row {before.id} changed since it was read")
    if departments_changed:
        _DELETE_DEPARTMENTS.execute(connection, {"_member_id": before.id})
        if after.departments:
            _INSERT_DEPARTMENTS.execute_many(
                connection, [{"member_id": before.id, "department_id": d} for d, _ in after.departments]
            )
    after.version, after.updated_at = before.version + 1, now
    if change is not None:
        events.record(before.org_id, actor, change)
    return after


def copy(record: MemberRecord, **changes: Any) -> MemberRecord:
    """A copy of the record with some values replaced (lists copied, so the original stays as read)."""
    changes.setdefault("departments", list(record.departments))
    changes.setdefault("groups", list(record.groups))
    return replace(record, **changes)


_LOOKUPS: dict[tuple[tuple[str, ...], bool, bool], Any] = {}


def _lookups_statement(shape: tuple[tuple[str, ...], bool, bool]) -> Any:
    probe = (
        select(_members.c.id)
        .where(
            _members.c.org_id == bindparam("org_id"),
            or_(*(MATCH_COLUMNS[name] == bindparam(name) for name in shape[0])),
        )
        .limit(1)
        .subquery()
    )
    parts = [select(literal(0).label("kind"), probe.c.id, null().label("name"), null().label("public_id"))]
    if shape[1]:
        title = title_by_name("_title").subquery()
        parts.append(select(literal(1), title.c.id, title.c.name, null()))
    if shape[2]:
        department = department_by_name("_department").subquery()
        parts.append(select(literal(2), department.c.id, department.c.name, department.c.public_id))
    return union_all(*parts)


def create_lookups(
    org_id: int, probes: dict[str, Any], title: str | None, department: str | None
) -> tuple[bool, tuple[int, str] | None, tuple[int, str] | None]:
    """What a create must know first, in one statement: whether a member matches ``probes``
    (userName and the source's match attributes), and the job title and department named
    (as ``workforce.lookup_title`` and ``departments.lookup_department``)."""
    shape = (tuple(probes), bool(title), bool(department))
    statement = _LOOKUPS.get(shape)
    if statement is None:
        statement = _LOOKUPS[shape] = _lookups_statement(shape)
    params = {"org_id": org_id, **probes, "_title": norm(title), "_department": norm(department)}
    matched, found_title, found_department = False, None, None
    for kind, row_id, name, public_id in db.session.connection().execute(statement, params):
        if kind == 0:
            matched = matched or row_id is not None
        elif kind == 1:
            found_title = (row_id, name)
        else:
            found_department = (row_id, name)
            events.remember_departments([(row_id, public_id, name)])
    return matched, found_title, found_department


# ---------------------------------------------------------------- writes that remove


_DELETE = Prepared(
    delete(_members).where(_members.c.id == bindparam("_id"), _members.c.version == bindparam("_version"))
)
# Members managed by a removed member lose the link and keep its SCIM id as a reference (an
# identity provider that still names it gets it back); their version moves on, so an ETag of
# them is stale, as after any change.
_UNLINK_MANAGED = Prepared(
    update(_members)
    .where(_members.c.manager_id == bindparam("_id"))
    .values(
        manager_id=None, manager_ref=bindparam("_ref"), version=_members.c.version + 1, updated_at=bindparam("_now")
    )
    .returning(_members.c.public_id)
)


def delete_record(record: MemberRecord, actor: Actor) -> None:
    """DELETE a member at the version read (its departments and group memberships go with it).

    Its member.deleted event carries the member as it was; the members it managed get a
    member.updated event each (their manager is now a reference).
    """
    # The event is built before the first write: from it to COMMIT, every other writer waits.
    deleted = events.Change("member.deleted", "member", record.public_id, events.member_attributes(record, actor))
    connection = db.session.connection()
    managed = list(
        _UNLINK_MANAGED.execute(connection, {"_id": record.id, "_ref": record.public_id, "_now": utcnow()}).scalars()
    )
    _DELETE_DEPARTMENTS.execute(connection, {"_member_id": record.id})
    _DELETE_GROUP_MEMBERSHIPS.execute(connection, {"_member_id": record.id})
    if _DELETE.execute(connection, {"_id": record.id, "_version": record.version}).rowcount != 1:
        raise StaleDataError(f"members row {record.id} changed since it was read")
    unlinked = {"manager": {"ref": record.public_id}}
    events.record_many(
        record.org_id,
        actor,
        [
            deleted,
            *(events.Change("member.updated", "member", public_id, unlinked, ["manager"]) for public_id in managed),
        ],
    )


def unique(write: Callable[[], _T]) -> _T:
    """Run a write; a violated unique constraint becomes a Conflict naming the field."""
    try:
        return write()
    except IntegrityError as exc:
        conflict = conflict_for(exc)
        if conflict is None:
            raise
        raise conflict from exc


# ---------------------------------------------------------------- references


@dataclass
class Refs:
    """What a member's values refer to, as (id, name), looked up (or made) before the member is written."""

    job_title: tuple[int, str] | None = None
    departments: list[tuple[int, str]] = field(default_factory=list)
    employee_type: tuple[int, str] | None = None
    #: (id, SCIM id, display name, userName) of the manager, when the reference names a member
    manager: tuple[int, str, str, str] | None = None
    manager_ref: str | None = None
    #: the title and departments named, and whether this request made them (for the Sync log)
    associated: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: (name, its source) of a job title named but not found, when its making waits for the member's own write
    #: (``resolve_refs``'s ``defer_new_title``)
    new_title: tuple[str, int | None] | None = None


_MANAGER_COLUMNS = (_members.c.id, _members.c.public_id, _members.c.name, _members.c.external_id)


def _manager(org_id: int, ref: str, member_id: int | None) -> tuple[int, str, str, str] | None:
    """The member a manager reference names: its SCIM id, else its userName, else its externalId (never itself)."""
    connection = db.session.connection()
    for column, wanted in (
        (_members.c.public_id, ref),
        (_members.c.external_id_norm, norm(ref)),
        (_members.c.scim_external_id, ref),
    ):
        row = connection.execute(
            select(*_MANAGER_COLUMNS)
            .where(_members.c.org_id == org_id, column == wanted)
            .order_by(_members.c.id)
            .limit(1)
        ).first()
        if row is not None:
            return None if row[0] == member_id else (row[0], row[1], row[2], row[3])
    return None


def _departments_by_id(org_id: int, ids: list[Any]) -> list[tuple[int, str]]:
    wanted = [int(i) for i in ids if str(i).strip()]
    if not wanted:
        return []
    found = dict(
        db.session.connection()
        .execute(
            select(_departments.c.id, _departments.c.name).where(
                _departments.c.org_id == org_id, _departments.c.id.in_(wanted)
            )
        )
        .all()
    )
    if len(found) != len(set(wanted)):
        raise Invalid("Choose departments of this organization", field="department_ids")
    return sorted(((i, found[i]) for i in dict.fromkeys(wanted)), key=lambda d: (d[1], d[0]))


def _workforce_type_by_id(org_id: int, type_id: Any) -> tuple[int, str] | None:
    if not type_id:
        return None
    row = (
        db.session.connection()
        .execute(select(_types.c.id, _types.c.name).where(_types.c.org_id == org_id, _types.c.id == int(type_id)))
        .first()
    )
    if row is None:
        raise Invalid("Choose a workforce type of this organization", field="employee_type_id")
    return (row[0], row[1])


def resolve_refs(
    org_id: int,
    source_id: int | None,
    values: dict[str, Any],
    *,
    member: MemberRecord | None = None,
    title: tuple[int, str] | None = None,
    department: tuple[int, str] | None = None,
    defer_new_title: bool = False,
) -> Refs:
    """Look up what the values name, making a missing job title or department with ``source_id`` as its source.

    Keys: ``job_title`` (a name), ``department`` (a name; any level, oldest first) or
    ``department_ids``, ``employee_type_id``, ``manager`` (SCIM id, userName or
    externalId). A key that is absent names nothing. ``member`` is the member being
    changed: a title or department it already has by that name (any case) needs no
    lookup. ``title`` and ``department`` are found already (``create_lookups``).

    ``defer_new_title``: a missing job title is only named (``Refs.new_title``); ``insert_record`` or
    ``update_record``, given the refs, makes it just before the member's own write. Its INSERT is a write: from
    it to COMMIT every other writer waits, so a SCIM write that names a new title builds its record, changes,
    event and Sync log row first.
    """
    out = Refs()
    if values.get("job_title"):
        name = values["job_title"]
        created = False
        if member is not None and member.job_title_id is not None and norm(name) == norm(member.job_title):
            out.job_title = (member.job_title_id, member.job_title or "")
        else:
            out.job_title = title or lookup_title(org_id, name)
            if out.job_title is None and defer_new_title:
                out.new_title = (name.strip(), source_id)
            elif out.job_title is None:
                out.job_title, created = make_job_title(org_id, name, source_id)
        named = out.job_title[1] if out.job_title is not None else name.strip()
        out.associated.append({"type": "job_title", "name": named, "created": created})
    if values.get("department"):
        name = values["department"]
        created = False
        found = department
        if member is not None and len(member.departments) == 1 and norm(name) == norm(member.departments[0][1]):
            # A member already in a department of that name stays in it, even when another
            # department of the same name exists elsewhere in the tree.
            found = member.departments[0]
        found = found or lookup_department(org_id, name)
        if found is None:
            made, created = find_or_create_department(org_id, name, source_id)
            found = (made.id, made.name)
        out.departments = [found]
        out.associated.append({"type": "department", "name": found[1], "created": created})
    elif "department_ids" in values:
        out.departments = _departments_by_id(org_id, values["department_ids"] or [])
    out.employee_type = _workforce_type_by_id(org_id, values.get("employee_type_id"))
    ref = values.get("manager")
    if ref:
        out.manager = _manager(org_id, ref, member.id if member is not None else None)
        out.manager_ref = None if out.manager is not None and out.manager[1] == ref else ref
        if out.manager is None:
            out.notes.append(f"Manager {ref!r} is not a member of the organization: kept as a reference")
    return out


def _make_new_title(refs: Refs, record: MemberRecord) -> bool:
    """Make the job title ``resolve_refs`` left to make (``defer_new_title``) and give it to ``record``; returns
    whether its name as stored differs from the one the record had (a parallel request made it first, in
    another case).

    The Sync log's entry of the title (``refs.associated``, whose dicts ``newly_given`` passes on as they are)
    learns its name as stored and whether this request made it.
    """
    assert refs.new_title is not None
    name, source_id = refs.new_title
    refs.job_title, created = make_job_title(record.org_id, name, source_id)
    refs.new_title = None
    spelled = record.job_title
    record.job_title_id, record.job_title = refs.job_title
    for entry in refs.associated:
        if entry["type"] == "job_title":
            entry.update(name=refs.job_title[1], created=created)
    return record.job_title != spelled


def newly_given(associated: list[dict[str, Any]], changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Associated objects worth a log line: those made now, and those newly given to the member."""
    return [
        a
        for a in associated
        if a["created"] or {"job_title": "job_title", "department": "departments"}[a["type"]] in changes
    ]


#: the reference keys of a member's values, and the record fields each one sets
_REFERENCE_KEYS = {
    "job_title": ("job_title_id", "job_title"),
    "department": ("departments",),
    "department_ids": ("departments",),
    "employee_type_id": ("employee_type_id", "employee_type"),
    "manager": ("manager_id", "manager_ref", "manager_public_id", "manager_name", "manager_external_id"),
}


def assign(record: MemberRecord, values: dict[str, Any], refs: Refs, *, replace_all: bool) -> MemberRecord:
    """The record with the values and their references set, as a new record (``record`` stays as read).

    ``replace_all`` (SCIM PUT, and PATCH on its final state): a value left out is
    cleared. Otherwise (the console's form) only the values given change. Status
    changes only when ``active`` is given.
    """
    changes: dict[str, Any] = {key: values.get(key) for key in PLAIN_FIELDS if replace_all or key in values}
    given = {key for key in _REFERENCE_KEYS if replace_all or key in values}
    if given & {"job_title"}:
        changes.update(
            job_title_id=refs.job_title[0] if refs.job_title else None,
            # a title still to make (``Refs.new_title``) is named already
            job_title=refs.job_title[1] if refs.job_title else refs.new_title[0] if refs.new_title else None,
        )
    if given & {"department", "department_ids"}:
        changes["departments"] = list(refs.departments)
    if given & {"employee_type_id"}:
        changes.update(
            employee_type_id=refs.employee_type[0] if refs.employee_type else None,
            employee_type=refs.employee_type[1] if refs.employee_type else None,
        )
    if given & {"manager"}:
        manager = refs.manager
        changes.update(
            manager_id=manager[0] if manager else None,
            manager_public_id=manager[1] if manager else None,
            manager_name=manager[2] if manager else None,
            manager_external_id=manager[3] if manager else None,
            manager_ref=refs.manager_ref,
        )
    if "active" in values:
        changes["status"] = "active" if values["active"] else "inactive"
    return copy(record, **changes)


def new_record(org_id: int, source_id: int | None) -> MemberRecord:
    """A member not yet written: active, with nothing set."""
    now = utcnow()
    return MemberRecord(
        id=0,
        public_id=new_public_id(),
        org_id=org_id,
        source_id=source_id,
        external_id="",
        email="",
        name="",
        first_name=None,
        last_name=None,
        another_name=None,
        employee_id=None,
        user_type=None,
        work_country=None,
        mobile=None,
        scim_external_id=None,
        manager_ref=None,
        status="active",
        created_at=now,
        updated_at=now,
        version=1,
        job_title_id=None,
        employee_type_id=None,
        manager_id=None,
        job_title=None,
        employee_type=None,
        manager_public_id=None,
        manager_name=None,
        manager_external_id=None,
    )


# ---------------------------------------------------------------- the console's members (data source Admin Console)

#: member fields a person edits in the console
MEMBER_FIELDS = (
    "external_id",
    "email",
    "name",
    "first_name",
    "last_name",
    "another_name",
    "employee_id",
    "work_country",
    "mobile",
)
#: a unique constraint's field (as ``unique.conflict_for`` names it) -> the console's form field and label
_CONSOLE_CONFLICTS = {
    "userName": ("external_id", "user ID (ExternalID)"),
    "email": ("email", "email"),
    "employeeNumber": ("employee_id", "employee ID"),
}


def get_member(org_id: int, member_id: int) -> Member:
    """A member of the organization by internal id, for the console to show, or NotFound."""
    member = db.session.get(Member, member_id)
    if member is None or member.org_id != org_id:
        raise NotFound("No such member")
    return member


def _record(org_id: int, member_id: int) -> MemberRecord:
    record = get_by_id(member_id)
    if record is None or record.org_id != org_id:
        raise NotFound("No such member")
    return record


def _shown(member_id: int) -> Member:
    """The member as the console shows it after a write in SQL Core: the session's copies are stale."""
    db.session.expire_all()
    member = db.session.get(Member, member_id)
    assert member is not None
    return member


#: the member values stored in a column of limited length, and that column: one limit per field for both
#: doors (the console's form and a SCIM write); a job title and a department are rows of their own tables
VALUE_COLUMNS: dict[str, Any] = {
    **{key: getattr(Member, key) for key in (*MEMBER_FIELDS, "user_type", "scim_external_id")},
    "job_title": JobTitle.name,
    "department": Department.name,
    "manager": Member.manager_ref,
}


def value_problems(values: dict[str, Any], labels: dict[str, str], *, any_character: bool = False) -> dict[str, str]:
    """Each text value that its column cannot hold, by key, with ``labels[key]`` naming it: ``text.text_problem``.

    The one length rule of a member's fields, whichever door writes them: longer than the column (its
    compared form too) is refused. ``any_character`` (SCIM: what a provider sends is kept as sent) refuses
    only what no database stores, NUL and lone surrogates; otherwise (the console) a control character too.
    """
    problems: dict[str, str] = {}
    for key, column in VALUE_COLUMNS.items():
        value = values.get(key)
        if isinstance(value, str):
            problem = text_problem(value, column, label=labels.get(key, key), multiline=any_character)
            if problem is not None:
                problems[key] = problem
    return problems


def _form_values(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values stripped (empty: None), and what is wrong with them by field (every field at once)."""
    out: dict[str, Any] = {}
    for key in (*MEMBER_FIELDS, "job_title"):
        if key in values:
            out[key] = (str(values[key]).strip() or None) if values[key] is not None else None
    errors = value_problems(out, FIELD_LABELS)
    if "department_ids" in values:
        out["department_ids"] = values["department_ids"] or []
    if "employee_type_id" in values:
        out["employee_type_id"] = values["employee_type_id"] or None
    return out, errors


def _check_form(
    final: dict[str, Any], changed: set[str], errors: dict[str, str], *, email_required: bool = True
) -> None:
    """Refuse the form with every error at once (``Invalid.of``): the text errors found already and the rules.

    ``final`` holds the member's user ID, email, name and mobile as they would be stored; ``changed`` the
    fields the form sets anew, whose format is checked (a value a sync source once sent stays as sent while
    the admin edits another field). A person added by hand needs an email; a member a source unlinked
    without one may stay without.
    """
    found = dict(errors)
    if not final.get("external_id") and "external_id" not in found:
        found["external_id"] = "Enter the user ID (ExternalID)"
    email = final.get("email")
    if "email" not in found:
        if not email and email_required:
            found["email"] = contact.INVALID_EMAIL
        elif email and "email" in changed and (problem := contact.email_problem(email)) is not None:
            found["email"] = problem
    if not final.get("name") and "name" not in found:
        found["name"] = "Enter the member's name"
    mobile = final.get("mobile")
    if mobile and "mobile" in changed and "mobile" not in found and (problem := contact.phone_problem(mobile)):
        found["mobile"] = problem
    if found:
        order = [*MEMBER_FIELDS, "job_title"]
        raise Invalid.of(dict(sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)))


def _console_write(write: Callable[[], _T]) -> _T:
    try:
        return unique(write)
    except Conflict as exc:
        form_field, label = _CONSOLE_CONFLICTS.get(exc.field or "", (exc.field, exc.field))
        raise Conflict(f"This {label} is already used by another member", field=form_field) from exc


def create_member(org_id: int, values: dict[str, Any], actor: Actor, *, log: bool = True) -> Member:
    """Create a member by hand: data source Admin Console, the same uniqueness rules as SCIM.

    ``log=False``: no Admin log entry of its own, for a caller that writes one for many members
    (``portal.core.bulk``, ``portal.core.member_import``); the same for the writers below.
    """
    form, errors = _form_values(values)
    _check_form(form, set(form), errors)
    refs = resolve_refs(org_id, actor.source_id, form)
    record = assign(new_record(org_id, None), form, refs, replace_all=False)
    for key in ("external_id", "email", "name"):
        setattr(record, key, getattr(record, key) or "")
    record.id = _console_write(lambda: insert_record(record, actor))
    if log:
        _log(actor, "Add member", record, admin_log.diff({}, record.snapshot()))
    return _shown(record.id)


def _log(actor: Actor, event_type: str, record: MemberRecord, changes: dict[str, Any]) -> None:
    """The Admin log entry of a change made by hand to a member."""
    admin_log.record(
        actor,
        record.org_id,
        event_type,
        target_type="member",
        target_id=record.public_id,
        target_name=record.name,
        changes=changes,
    )


def _source_name(source_id: int) -> str:
    return db.session.scalar(select(SyncSource.name).where(SyncSource.id == source_id)) or ""


#: a field the console edits, and the kept multi-valued attribute it derives from when synced
_DERIVED_FROM_KEPT = (("email", "emails"), ("mobile", "phone_numbers"), ("work_country", "addresses"))


def update_member(org_id: int, member_id: int, values: dict[str, Any], actor: Actor, *, log: bool = True) -> Member:
    """Edit a member by hand; the fields a sync source writes stay read-only for a synced member."""
    before = _record(org_id, member_id)
    form, errors = _form_values(values)
    if before.source_id is not None:
        synced = set(MEMBER_FIELDS) | {"department_ids", "job_title", "employee_type_id"}
        locked = sorted(k for k in values if k in synced)
        if locked:
            raise Invalid(
                f"{', '.join(locked)} are written by the sync source {_source_name(before.source_id)}; "
                "change them there",
                field=locked[0],
            )
    final = {
        key: form[key] if key in form else getattr(before, key) for key in ("external_id", "email", "name", "mobile")
    }
    changed = {key for key in form if form[key] != getattr(before, key, None)}
    _check_form(final, changed, errors, email_required=before.email is not None)
    refs = resolve_refs(org_id, actor.source_id, form, member=before)
    after = assign(before, form, refs, replace_all=False)
    # A field edited by hand no longer derives from what a provider once sent: those entries go.
    for derived, kept in _DERIVED_FROM_KEPT:
        if getattr(after, derived) != getattr(before, derived):
            setattr(after, kept, None)
    _console_write(lambda: update_record(before, after, utcnow(), actor))
    changes = admin_log.diff(before.snapshot(), after.snapshot())
    if changes and log:
        _log(actor, "Edit member", after, changes)
    return _shown(member_id)


def _hand_made(record: MemberRecord, doing: str) -> None:
    """Refuse to change by hand what a sync source manages: the identity provider would undo it."""
    if record.source_id is not None:
        raise Invalid(
            f"{record.name} is managed by the sync source {_source_name(record.source_id)}; "
            f"{doing} the user in the identity provider",
            field="status",
        )


def set_member_active(org_id: int, member_id: int, active: bool, actor: Actor, *, log: bool = True) -> Member:
    """Suspend or reactivate a member made in the Admin Console."""
    before = _record(org_id, member_id)
    _hand_made(before, "reactivate" if active else "suspend")
    after = update_record(before, copy(before, status="active" if active else "inactive"), utcnow(), actor)
    if before.status != after.status and log:
        _log(
            actor, "Reactivate member" if active else "Suspend member", after, {"status": [before.status, after.status]}
        )
    return _shown(member_id)


def delete_member(org_id: int, member_id: int, actor: Actor) -> None:
    """Delete a member made in the Admin Console (memberships go with it)."""
    record = _record(org_id, member_id)
    _hand_made(record, "delete")
    delete_record(record, actor)
    db.session.expire_all()
    _log(actor, "Delete member", record, admin_log.diff(record.snapshot(), {}))


_SET_CUSTOM = (
    update(_members)
    .where(_members.c.id == bindparam("_id"), _members.c.version == bindparam("_version"))
    .values(custom_fields=bindparam("custom_fields"), version=bindparam("version"), updated_at=bindparam("updated_at"))
)


def set_custom_fields(org_id: int, member_id: int, raw: dict[str, Any], actor: Actor, *, log: bool = True) -> Member:
    """Set a member's custom field values; they belong to the console, so synced members have them too."""
    record = _record(org_id, member_id)
    before = dict(db.session.scalar(select(_members.c.custom_fields).where(_members.c.id == member_id)) or {})
    merged = {**before, **{k: None for k in raw}, **custom_field_values(org_id, raw)}
    after = {k: v for k, v in merged.items() if v is not None}
    changes = admin_log.diff(
        {f"custom.{k}": v for k, v in before.items()}, {f"custom.{k}": v for k, v in after.items()}
    )
    if changes:
        result = db.session.connection().execute(
            _SET_CUSTOM,
            {
                "_id": record.id,
                "_version": record.version,
                "custom_fields": after,
                "version": record.version + 1,
                "updated_at": utcnow(),
            },
        )
        if result.rowcount != 1:
            raise StaleDataError(f"members row {record.id} changed since it was read")
        events.record(
            org_id,
            actor,
            events.Change("member.updated", "member", record.public_id, {"custom_fields": after}, ["custom_fields"]),
        )
        if log:
            _log(actor, "Edit member", record, changes)
    return _shown(member_id)
