"""Members as the SCIM door reads and writes them: plain records and SQL Core statements.

An identity provider's initial sync is a lookup and a create per user, then
PATCHes: the ORM's identity map, unit of work and relationship loaders cost
several times the SQL itself on these requests (BENCHMARKS.md, "CPU cost per
request"). The SCIM operations read a member as one ``MemberRecord`` (one
statement with its title, workforce type and manager, one more for the
departments and groups of a whole page) and write it with single INSERT and
UPDATE statements. The console keeps the ORM: these functions write the same
rows, and ``*_norm`` columns are computed with the same ``norm``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, insert, literal, null, or_, select, union_all, update

from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.models import (
    Department,
    JobTitle,
    Member,
    UserGroup,
    WorkforceType,
    group_members,
    member_departments,
    norm,
)

_members = Member.__table__
_titles = JobTitle.__table__
_types = WorkforceType.__table__
_departments = Department.__table__
_groups = UserGroup.__table__
_managers = _members.alias("manager")
# Aliased in the records' FROM, so a filter's EXISTS over job_titles still correlates to members only.
_member_title = _titles.alias("member_title")
_member_type = _types.alias("member_type")

#: the member columns a SCIM request sets (besides status, title, type, manager and departments)
PLAIN_FIELDS = ("external_id", "email", "name", "first_name", "last_name", "another_name", "employee_id",
                "user_type", "work_country", "mobile", "scim_external_id")
#: the columns a create is matched on (``userName`` and the sources' match attributes), as stored
MATCH_COLUMNS = {"userName": _members.c.external_id_norm, "email": _members.c.email_norm,
                 "employee_id": _members.c.employee_id, "mobile": _members.c.mobile}
#: columns kept as the case-folded copy of another (models.normalizes does the same for the ORM)
_NORMS = {"external_id": "external_id_norm", "email": "email_norm", "name": "name_norm"}


@dataclass(slots=True)
class MemberRecord:
    """One member with what its SCIM representation and sync log rows show."""

    id: int
    public_id: str
    org_id: int
    source_id: int | None
    external_id: str
    email: str
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
        """The member's fields as plain values, as ``directory.member_snapshot`` gives them."""
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
        out.update(user_type=self.user_type,
                   manager=self.manager_external_id if self.manager_id is not None else self.manager_ref,
                   scim_external_id=self.scim_external_id)
        return out

    def columns(self) -> dict[str, Any]:
        """The values of the ``members`` columns a SCIM write may change."""
        out = {key: getattr(self, key) for key in PLAIN_FIELDS}
        for key, norm_key in _NORMS.items():
            out[norm_key] = norm(out[key])
        out.update(status=self.status, job_title_id=self.job_title_id, employee_type_id=self.employee_type_id,
                   manager_id=self.manager_id, manager_ref=self.manager_ref)
        return out


_RECORD_COLUMNS = (
    _members.c.id, _members.c.public_id, _members.c.org_id, _members.c.source_id, _members.c.external_id,
    _members.c.email, _members.c.name, _members.c.first_name, _members.c.last_name, _members.c.another_name,
    _members.c.employee_id, _members.c.user_type, _members.c.work_country, _members.c.mobile,
    _members.c.scim_external_id, _members.c.manager_ref, _members.c.status, _members.c.created_at,
    _members.c.updated_at, _members.c.version, _members.c.job_title_id, _members.c.employee_type_id,
    _members.c.manager_id, _member_title.c.name, _member_type.c.name, _managers.c.public_id, _managers.c.name,
    _managers.c.external_id,
)
_RECORD_FROM = (
    _members.outerjoin(_member_title, _member_title.c.id == _members.c.job_title_id)
    .outerjoin(_member_type, _member_type.c.id == _members.c.employee_type_id)
    .outerjoin(_managers, _managers.c.id == _members.c.manager_id)
)
# Departments and groups of a page of members in one statement, in the ORM relationships' order.
_RELATED = union_all(
    select(member_departments.c.member_id, literal(0).label("kind"), _departments.c.name.label("label"),
           _departments.c.id.label("department_id"), null().label("public_id"))
    .join(_departments, _departments.c.id == member_departments.c.department_id)
    .where(member_departments.c.member_id.in_(bindparam("ids", expanding=True))),
    select(group_members.c.member_id, literal(1).label("kind"), _groups.c.display_name.label("label"),
           null().label("department_id"), _groups.c.public_id.label("public_id"))
    .join(_groups, _groups.c.id == group_members.c.group_id)
    .where(group_members.c.member_id.in_(bindparam("ids", expanding=True))),
).order_by("member_id", "kind", "label")


def select_records(*conditions: ColumnElement[bool]) -> Select[Any]:
    """A SELECT of member records (add ORDER BY, OFFSET and LIMIT, then ``fetch`` it)."""
    return select(*_RECORD_COLUMNS).select_from(_RECORD_FROM).where(*conditions)


def fetch(statement: Select[Any], params: dict[str, Any] | None = None) -> list[MemberRecord]:
    """The records a ``select_records`` statement finds, with their departments and groups (two statements)."""
    connection = db.session.connection()
    records = [MemberRecord(*row) for row in connection.execute(statement, params)]
    if records:
        by_id = {record.id: record for record in records}
        for member_id, kind, label, department_id, public_id in connection.execute(_RELATED, {"ids": list(by_id)}):
            if kind == 0:
                by_id[member_id].departments.append((department_id, label))
            else:
                by_id[member_id].groups.append((public_id, label))
    return records


# Prepared once: building a statement costs more than running it on these hot paths.
_BY_PUBLIC_ID = select_records(_members.c.public_id == bindparam("public_id"), _members.c.org_id == bindparam("org_id"),
                               _members.c.source_id == bindparam("source_id"))
_BY_USER_NAME = select_records(_members.c.external_id_norm == bindparam("name"), _members.c.org_id == bindparam("org_id"),
                               _members.c.source_id == bindparam("source_id"))
_BY_ID = select_records(_members.c.id == bindparam("id"))


def get(org_id: int, source_id: int, public_id: str) -> MemberRecord | None:
    """The member a source manages, by SCIM id."""
    found = fetch(_BY_PUBLIC_ID, {"public_id": public_id, "org_id": org_id, "source_id": source_id})
    return found[0] if found else None


def by_user_name(org_id: int, source_id: int, user_name: str) -> list[MemberRecord]:
    """The member a source manages with this userName (any case), as a page of zero or one."""
    return fetch(_BY_USER_NAME, {"name": norm(user_name), "org_id": org_id, "source_id": source_id})


def get_by_id(member_id: int) -> MemberRecord:
    """A member by its primary key (after a write through the ORM)."""
    return fetch(_BY_ID, {"id": member_id})[0]


def insert_record(record: MemberRecord) -> int:
    """INSERT a new member (its ``departments`` too); returns its primary key."""
    values = record.columns()
    values.update(public_id=record.public_id, org_id=record.org_id, source_id=record.source_id, custom_fields={},
                  created_at=record.created_at, updated_at=record.updated_at, version=record.version)
    connection = db.session.connection()
    member_id = connection.execute(insert(_members), values).inserted_primary_key[0]
    if record.departments:
        connection.execute(insert(member_departments),
                           [{"member_id": member_id, "department_id": d} for d, _ in record.departments])
    return int(member_id)


#: prepared UPDATEs by the set of columns they write: SQLite rewrites every index holding a
#: column named in SET, changed or not, so an UPDATE names only the columns that changed
_UPDATES: dict[tuple[str, ...], Any] = {}


def _update_statement(names: tuple[str, ...]) -> Any:
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = (
            update(_members).where(_members.c.id == bindparam("_id"), _members.c.version == bindparam("_version"))
            .values({name: bindparam(name) for name in (*names, "version", "updated_at")})
        )
    return statement


_SUSPEND = (
    update(_members).where(_members.c.id == bindparam("_id"), _members.c.version == bindparam("_version"))
    .values(status="inactive", source_id=None, version=bindparam("version"), updated_at=bindparam("updated_at"))
)


def update_record(before: MemberRecord, after: MemberRecord, now: datetime) -> MemberRecord:
    """Write what changed from ``before`` to ``after`` (columns, departments); returns the record as stored.

    A change bumps the version and ``updated_at``, as the ORM's version counter and
    ``onupdate`` do; no change writes nothing. The UPDATE names the version it read:
    one that lost a race raises StaleDataError, so the door runs it again or answers 412.
    """
    columns = after.columns()
    old = before.columns()
    changed = {key: value for key, value in columns.items() if old[key] != value}
    departments_changed = [d for d, _ in before.departments] != [d for d, _ in after.departments]
    if not changed and not departments_changed:
        return after
    connection = db.session.connection()
    result = connection.execute(_update_statement(tuple(changed)), {
        **changed, "_id": before.id, "_version": before.version, "version": before.version + 1, "updated_at": now})
    if result.rowcount != 1:
        raise StaleDataError(f"members row {before.id} changed since it was read")
    if departments_changed:
        connection.execute(delete(member_departments).where(member_departments.c.member_id == before.id))
        if after.departments:
            connection.execute(insert(member_departments),
                               [{"member_id": before.id, "department_id": d} for d, _ in after.departments])
    after.version, after.updated_at = before.version + 1, now
    return after


def suspend(record: MemberRecord, now: datetime) -> bool:
    """Mark the member inactive and unlinked from its source (the Suspend deletion rule); False on a version race."""
    result = db.session.connection().execute(_SUSPEND, {"_id": record.id, "_version": record.version,
                                                        "version": record.version + 1, "updated_at": now})
    return result.rowcount == 1


def _title_select(name: str) -> Select[Any]:
    return select(_titles.c.id, _titles.c.name).where(_titles.c.org_id == bindparam("org_id"),
                                                      _titles.c.name_norm == bindparam(name))


def _department_select(name: str) -> Select[Any]:
    """The department ``directory.find_or_create_department`` would find: any level but the root, oldest first."""
    return (select(_departments.c.id, _departments.c.name)
            .where(_departments.c.org_id == bindparam("org_id"), _departments.c.name_norm == bindparam(name),
                   _departments.c.parent_id.is_not(None))
            .order_by(_departments.c.id).limit(1))


_TITLE = _title_select("name")
_DEPARTMENT = _department_select("name")


def lookup_title(org_id: int, name: str) -> tuple[int, str] | None:
    """(id, name) of the organization's job title of that name, in any case."""
    row = db.session.connection().execute(_TITLE, {"org_id": org_id, "name": norm(name)}).first()
    return (row[0], row[1]) if row is not None else None


def lookup_department(org_id: int, name: str) -> tuple[int, str] | None:
    """(id, name) of the department ``directory.find_or_create_department`` would find, or None."""
    row = db.session.connection().execute(_DEPARTMENT, {"org_id": org_id, "name": norm(name)}).first()
    return (row[0], row[1]) if row is not None else None


def copy(record: MemberRecord, **changes: Any) -> MemberRecord:
    """A copy of the record with some values replaced (lists copied, so the original stays as read)."""
    changes.setdefault("departments", list(record.departments))
    changes.setdefault("groups", list(record.groups))
    return replace(record, **changes)


_LOOKUPS: dict[tuple[tuple[str, ...], bool, bool], Any] = {}


def _lookups_statement(shape: tuple[tuple[str, ...], bool, bool]) -> Any:
    probe = (select(_members.c.id).where(_members.c.org_id == bindparam("org_id"),
                                         or_(*(MATCH_COLUMNS[name] == bindparam(name) for name in shape[0])))
             .limit(1).subquery())
    parts = [select(literal(0).label("kind"), probe.c.id, null().label("name"))]
    if shape[1]:
        title = _title_select("_title").subquery()
        parts.append(select(literal(1), title.c.id, title.c.name))
    if shape[2]:
        department = _department_select("_department").subquery()
        parts.append(select(literal(2), department.c.id, department.c.name))
    return union_all(*parts)


def create_lookups(org_id: int, probes: dict[str, Any], title: str | None,
                   department: str | None) -> tuple[bool, tuple[int, str] | None, tuple[int, str] | None]:
    """What a create must know first, in one statement: whether a member matches ``probes``
    (userName and the source's match attributes), and the job title and department named (as ``lookup_title``, ``lookup_department``)."""
    shape = (tuple(probes), bool(title), bool(department))
    statement = _LOOKUPS.get(shape)
    if statement is None:
        statement = _LOOKUPS[shape] = _lookups_statement(shape)
    params = {"org_id": org_id, **probes, "_title": norm(title), "_department": norm(department)}
    matched, found_title, found_department = False, None, None
    for kind, row_id, name in db.session.connection().execute(statement, params):
        if kind == 0:
            matched = matched or row_id is not None
        elif kind == 1:
            found_title = (row_id, name)
        else:
            found_department = (row_id, name)
    return matched, found_title, found_department
