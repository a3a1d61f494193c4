"""Members, departments, job titles, workforce types, user groups and organizations.

Every function takes plain values and an ``Actor``, flushes, and leaves the commit
to the door. Uniqueness is held by the database; ``unique_flush`` turns its
IntegrityError into a ``Conflict`` naming the field.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Any, Iterator

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.exc import IntegrityError
from portal.core import admin_log, passwords
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.models import (
    DEFAULT_WORKFORCE_TYPES,
    MEMBER_STATUSES,
    Admin,
    Department,
    Field,
    JobTitle,
    Member,
    Organization,
    SyncLog,
    SyncSource,
    UserGroup,
    WorkforceType,
    group_members,
    member_departments,
    norm,
    utcnow,
)

#: The seed's attribute table: member field key, label, SCIM attribute, required, unique.
STANDARD_FIELDS: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("external_id", "ExternalID", "userName", True, True),
    ("email", "Email", 'emails[type eq "work"].value', True, True),
    ("departments", "Department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", False, False),
    ("name", "Name", "displayName", True, False),
    ("employee_id", "Employee ID", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", False, True),
    ("employee_type", "Workforce type", "userType", False, False),
    ("first_name", "First name", "name.givenName", False, False),
    ("job_title", "Job title", "title", False, False),
    ("last_name", "Last name", "name.familyName", False, False),
    ("work_country", "Work country or region", 'addresses[type eq "work"].country', False, False),
    ("another_name", "Another name", "nickName", False, False),
    ("mobile", "Mobile", 'phoneNumbers[type eq "work"].value', False, False),
)

#: database column fragment -> the member field a violated unique constraint names
_UNIQUE_COLUMNS = (
    ("external_id_norm", "userName"),
    ("email_norm", "email"),
    ("employee_id", "employeeNumber"),
    ("display_name_norm", "displayName"),
    ("name_norm", "name"),
)

#: member fields a person edits in the console, with their labels
MEMBER_FIELDS = ("external_id", "email", "name", "first_name", "last_name", "another_name",
                 "employee_id", "work_country", "mobile")


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


# ---------------------------------------------------------------- organizations


def create_organization(name: str, admin_email: str, admin_password: str, actor: Actor) -> Organization:
    """Create an organization with its root department, workforce types, field catalogue and primary admin."""
    name = (name or "").strip()
    if not name:
        raise Invalid("The organization needs a name", field="name")
    if db.session.scalar(select(Organization.id).where(Organization.name_norm == norm(name))) is not None:
        raise Conflict(f"An organization named {name!r} already exists", field="name")
    org = Organization(name=name)
    db.session.add(org)
    db.session.flush()
    db.session.add(Department(org_id=org.id, parent_id=None, name=name))
    for wt in DEFAULT_WORKFORCE_TYPES:
        db.session.add(WorkforceType(org_id=org.id, name=wt))
    for position, (key, label, attribute, required, unique) in enumerate(STANDARD_FIELDS):
        db.session.add(
            Field(org_id=org.id, key=key, name=label, standard=True, scim_attribute=attribute,
                  required=required, unique=unique, position=position)
        )
    admin = create_admin(org, admin_email, admin_password, actor, role="primary", log=False)
    admin_log.record(actor, org.id, "Create organization", target_type="organization", target_id=org.id,
                 target_name=name, summary=f"Organization created with primary administrator {admin.email}")
    return org


def find_organization(name: str) -> Organization:
    """The organization with this name (case-insensitive)."""
    org = db.session.scalar(select(Organization).where(Organization.name_norm == norm(name)))
    if org is None:
        raise NotFound(f"No organization named {name!r}", field="org")
    return org


def create_admin(
    org: Organization,
    email: str,
    password: str,
    actor: Actor,
    *,
    name: str = "",
    role: str = "admin",
    permissions: set[str] | frozenset[str] = frozenset(),
    log: bool = True,
) -> Admin:
    """Create an administrator of ``org`` with a hashed password that passes the password policy."""
    email = (email or "").strip()
    if "@" not in email:
        raise Invalid("Enter a valid email address", field="email")
    passwords.check_policy(password)
    if db.session.scalar(select(Admin.id).where(Admin.email_norm == norm(email))) is not None:
        raise Conflict("An administrator with this email already exists", field="email")
    admin = Admin(
        org_id=org.id, email=email, name=name.strip(), role=role,
        password_hash=passwords.hash_password(password),
        perm_org_data_sync="org_data_sync" in permissions,
        perm_admin_log="admin_log" in permissions,
        perm_directory="directory" in permissions,
    )
    with unique_flush():
        db.session.add(admin)
    if log:
        admin_log.record(actor, org.id, "Add administrator", target_type="admin", target_id=admin.id,
                     target_name=admin.email, changes={"permissions": [None, sorted(admin.permissions)]})
    return admin


# ---------------------------------------------------------------- departments, job titles, workforce types


def root_department(org_id: int) -> Department:
    """The organization's root department (the organization itself)."""
    root = db.session.scalar(select(Department).where(Department.org_id == org_id, Department.parent_id.is_(None)))
    if root is None:
        raise NotFound("The organization has no root department")
    return root


def get_department(org_id: int, department_id: int) -> Department:
    """A department of the organization, or NotFound."""
    dept = db.session.get(Department, department_id)
    if dept is None or dept.org_id != org_id:
        raise NotFound("No such department")
    return dept


def _department_snapshot(dept: Department) -> dict[str, Any]:
    return {"name": dept.name, "parent": dept.parent.name if dept.parent else None}


def create_department(org_id: int, name: str, actor: Actor, parent_id: int | None = None) -> Department:
    """Create a department by hand (data source Admin Console) under ``parent_id`` or the root."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Enter a department name", field="name")
    parent = get_department(org_id, parent_id) if parent_id else root_department(org_id)
    parent_name = parent.name
    dept = Department(org_id=org_id, parent_id=parent.id, name=name, source_id=actor.source_id)
    try:
        with unique_flush():
            db.session.add(dept)
    except Conflict as exc:
        raise Conflict(f"A department named {name!r} already exists under {parent_name}", field="name") from exc
    if actor.kind != "source":
        admin_log.record(actor, org_id, "Add department", target_type="department", target_id=dept.id,
                     target_name=dept.name, changes=admin_log.diff({}, _department_snapshot(dept)))
    return dept


def update_department(org_id: int, department_id: int, actor: Actor, *, name: str | None = None,
                      parent_id: int | None = None) -> Department:
    """Rename or move a department by hand; a move never makes a cycle."""
    dept = get_department(org_id, department_id)
    if dept.parent_id is None:
        raise Invalid("The organization's root department cannot be renamed or moved here", field="name")
    before = _department_snapshot(dept)
    if name is not None:
        name = name.strip()
        if not name:
            raise Invalid("Enter a department name", field="name")
    new_parent = None
    if parent_id is not None and parent_id != dept.parent_id:
        new_parent = get_department(org_id, parent_id)
        ancestor: Department | None = new_parent
        while ancestor is not None:
            if ancestor.id == dept.id:
                raise Invalid("A department cannot move under itself or one of its sub-departments", field="parent_id")
            ancestor = ancestor.parent
    try:
        with unique_flush():
            if name is not None:
                dept.name = name
            if new_parent is not None:
                dept.parent = new_parent
    except Conflict as exc:
        raise Conflict(f"A department named {name or before['name']!r} already exists there", field="name") from exc
    changes = admin_log.diff(before, _department_snapshot(dept))
    if changes:
        admin_log.record(actor, org_id, "Edit department", target_type="department", target_id=dept.id,
                     target_name=dept.name, changes=changes)
    return dept


def find_or_create_department(org_id: int, name: str, actor: Actor) -> tuple[Department, bool]:
    """The department named ``name`` (any level, top level first), or a new one under the root.

    Returns the department and whether it was created. A department created here
    has the actor's sync source as its data source.
    """
    name = name.strip()
    found = db.session.scalars(
        select(Department)
        .where(Department.org_id == org_id, Department.name_norm == norm(name), Department.parent_id.is_not(None))
        .order_by(Department.id)
        .limit(1)
    ).first()
    if found is not None:
        return found, False
    root = root_department(org_id)
    try:
        with db.session.begin_nested():
            dept = Department(org_id=org_id, parent_id=root.id, name=name, source_id=actor.source_id)
            db.session.add(dept)
            db.session.flush()
        return dept, True
    except IntegrityError:
        # Another request created it between our look and our insert.
        existing = db.session.scalar(
            select(Department).where(Department.org_id == org_id, Department.parent_id == root.id,
                                     Department.name_norm == norm(name))
        )
        if existing is None:
            raise
        return existing, False


def find_or_create_job_title(org_id: int, name: str, actor: Actor) -> tuple[JobTitle, bool]:
    """The job title named ``name`` or a new one with the actor's data source; and whether it was created."""
    name = name.strip()
    found = db.session.scalar(select(JobTitle).where(JobTitle.org_id == org_id, JobTitle.name_norm == norm(name)))
    if found is not None:
        return found, False
    (title_id, _), created = make_job_title(org_id, name, actor.source_id)
    return db.session.get(JobTitle, title_id), created


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
        statement = _MAKE_TITLE[dialect] = insert_for(table).on_conflict_do_nothing().returning(table.c.id, table.c.name)
    row = connection.execute(statement, {"org_id": org_id, "name": name, "name_norm": norm(name),
                                         "source_id": source_id, "created_at": utcnow()}).first()
    if row is not None:
        return (row[0], row[1]), True
    made = db.session.execute(select(JobTitle.id, JobTitle.name).where(JobTitle.org_id == org_id,
                                                                        JobTitle.name_norm == norm(name))).first()
    if made is None:  # cannot happen: the conflicting row is committed or ours
        raise LookupError(f"job title {name!r} neither inserted nor found")
    return (made[0], made[1]), False


def workforce_types(org_id: int) -> list[WorkforceType]:
    """The organization's workforce types by name."""
    return list(db.session.scalars(select(WorkforceType).where(WorkforceType.org_id == org_id).order_by(WorkforceType.name)))


# ---------------------------------------------------------------- members


def get_member(org_id: int, member_id: int) -> Member:
    """A member of the organization by internal id, or NotFound."""
    member = db.session.get(Member, member_id)
    if member is None or member.org_id != org_id:
        raise NotFound("No such member")
    return member


def member_snapshot(member: Member) -> dict[str, Any]:
    """The member's fields as plain values, for diffs in the logs."""
    return {
        "external_id": member.external_id,
        "email": member.email,
        "name": member.name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "another_name": member.another_name,
        "employee_id": member.employee_id,
        "employee_type": member.employee_type.name if member.employee_type else None,
        "job_title": member.job_title.name if member.job_title else None,
        "departments": [d.name for d in member.departments],
        "work_country": member.work_country,
        "mobile": member.mobile,
        "status": member.status,
    }


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _apply_hand_fields(member: Member, values: dict[str, Any]) -> None:
    for key in MEMBER_FIELDS:
        if key in values:
            setattr(member, key, _clean(values[key]))
    if not member.external_id:
        raise Invalid("Enter the user ID (ExternalID)", field="external_id")
    if not member.email or "@" not in member.email:
        raise Invalid("Enter a valid email address", field="email")
    if not member.name:
        raise Invalid("Enter the member's name", field="name")


def _apply_associations(member: Member, values: dict[str, Any], actor: Actor) -> None:
    org_id = member.org_id
    if "department_ids" in values:
        member.departments = [get_department(org_id, int(d)) for d in values["department_ids"] or []]
    if "job_title" in values:
        title = _clean(values["job_title"])
        member.job_title = find_or_create_job_title(org_id, title, actor)[0] if title else None
    if "employee_type_id" in values:
        wt_id = values["employee_type_id"]
        if wt_id:
            wt = db.session.get(WorkforceType, int(wt_id))
            if wt is None or wt.org_id != org_id:
                raise Invalid("Choose a workforce type of this organization", field="employee_type_id")
            member.employee_type = wt
        else:
            member.employee_type = None


_FIELD_OF_CONFLICT = {"userName": "external_id", "email": "email", "employeeNumber": "employee_id"}


def _member_conflict(exc: Conflict) -> Conflict:
    field = _FIELD_OF_CONFLICT.get(exc.field or "", exc.field)
    labels = {"external_id": "user ID (ExternalID)", "email": "email", "employee_id": "employee ID"}
    return Conflict(f"This {labels.get(field, field)} is already used by another member", field=field)


def create_member(org_id: int, values: dict[str, Any], actor: Actor) -> Member:
    """Create a member by hand: data source Admin Console, same uniqueness rules as SCIM."""
    member = Member(org_id=org_id, status="active", source_id=None, custom_fields={})
    try:
        with unique_flush():
            _apply_hand_fields(member, values)
            db.session.add(member)
            _apply_associations(member, values, actor)
    except Conflict as exc:
        raise _member_conflict(exc) from exc
    admin_log.record(actor, org_id, "Add member", target_type="member", target_id=member.public_id,
                 target_name=member.name, changes=admin_log.diff({}, member_snapshot(member)))
    return member


def update_member(org_id: int, member_id: int, values: dict[str, Any], actor: Actor) -> Member:
    """Edit a member by hand; fields a sync source writes stay read-only for a synced member."""
    member = get_member(org_id, member_id)
    before = member_snapshot(member)
    if member.source_id is not None:
        synced = set(MEMBER_FIELDS) | {"department_ids", "job_title", "employee_type_id"}
        locked = sorted(k for k in values if k in synced)
        if locked:
            raise Invalid(
                f"{', '.join(locked)} are written by the sync source {member.source.name}; change them there",
                field=locked[0],
            )
    try:
        with unique_flush():
            _apply_hand_fields(member, values)
            _apply_associations(member, values, actor)
    except Conflict as exc:
        raise _member_conflict(exc) from exc
    changes = admin_log.diff(before, member_snapshot(member))
    if changes:
        admin_log.record(actor, org_id, "Edit member", target_type="member", target_id=member.public_id,
                     target_name=member.name, changes=changes)
    return member


def _custom_field_values(org_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Check custom field values against their field types; empty values are dropped."""
    fields = {f.key: f for f in db.session.scalars(
        select(Field).where(Field.org_id == org_id, Field.standard.is_(False), Field.key.in_(list(raw))))}
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        custom = fields.get(key)
        if custom is None:
            raise Invalid("No such custom field", field=f"custom.{key}")
        text = _clean(value)
        if text is None:
            continue
        clean[key] = _typed_value(custom, text)
    return clean


def _typed_value(custom: Field, text: str) -> Any:
    where = f"custom.{custom.key}"
    if custom.field_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise Invalid(f"{custom.name} must be a number", field=where) from None
        return int(number) if number.is_integer() else number
    if custom.field_type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise Invalid(f"{custom.name} must be a date (YYYY-MM-DD)", field=where) from None
    if custom.field_type == "option" and text not in custom.options:
        raise Invalid(f"Choose one of the options of {custom.name}", field=where)
    return text


def set_custom_fields(org_id: int, member_id: int, raw: dict[str, Any], actor: Actor) -> Member:
    """Set a member's custom field values; they belong to the console, so synced members have them too."""
    member = get_member(org_id, member_id)
    before = dict(member.custom_fields or {})
    after = {**before, **{k: None for k in raw}, **_custom_field_values(org_id, raw)}
    member.custom_fields = {k: v for k, v in after.items() if v is not None}
    db.session.flush()
    changes = admin_log.diff({f"custom.{k}": v for k, v in before.items()},
                         {f"custom.{k}": v for k, v in member.custom_fields.items()})
    if changes:
        admin_log.record(actor, org_id, "Edit member", target_type="member", target_id=member.public_id,
                     target_name=member.name, changes=changes)
    return member


# ---------------------------------------------------------------- members: lifecycle by hand, listing


def _hand_made(member: Member, doing: str) -> None:
    """Refuse to change by hand what a sync source manages: the identity provider would undo it."""
    if member.source_id is not None:
        raise Invalid(f"{member.name} is managed by the sync source {member.source.name}; "
                      f"{doing} the user in the identity provider", field="status")


def set_member_active(org_id: int, member_id: int, active: bool, actor: Actor) -> Member:
    """Suspend or reactivate a member made in the Admin Console."""
    member = get_member(org_id, member_id)
    _hand_made(member, "reactivate" if active else "suspend")
    before = member.status
    member.status = "active" if active else "inactive"
    db.session.flush()
    if before != member.status:
        admin_log.record(actor, org_id, "Reactivate member" if active else "Suspend member", target_type="member",
                     target_id=member.public_id, target_name=member.name, changes={"status": [before, member.status]})
    return member


def delete_member(org_id: int, member_id: int, actor: Actor) -> None:
    """Delete a member made in the Admin Console (memberships go with it)."""
    member = get_member(org_id, member_id)
    _hand_made(member, "delete")
    snapshot = member_snapshot(member)
    public_id, name = member.public_id, member.name
    # Members managed by this one keep existing and lose the reference; their version moves on so
    # an identity provider's ETag of them is stale, as for any change.
    db.session.execute(update(Member).where(Member.manager_id == member.id)
                       .values(manager_id=None, version=Member.version + 1)
                       .execution_options(synchronize_session=False))
    db.session.delete(member)
    db.session.flush()
    admin_log.record(actor, org_id, "Delete member", target_type="member", target_id=public_id, target_name=name,
                 changes=admin_log.diff(snapshot, {}))


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


def _prefix(column: Any, text: str) -> Any:
    """``column`` starts with ``text``: a range an index answers, plus LIKE for any collation's edge cases."""
    condition = and_(column >= text, column.like(escape_like(text) + "%", escape="\\"))
    last = ord(text[-1])
    if last < 0x10FFFF:
        condition = and_(condition, column < text[:-1] + chr(last + 1))
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
        conditions.append(or_(
            _prefix(Member.name_norm, lowered),
            _prefix(Member.email_norm, lowered),
            _prefix(Member.external_id_norm, lowered),
            _prefix(Member.employee_id, text),
        ))
    if flt.status in MEMBER_STATUSES:
        conditions.append(Member.status == flt.status)
    if flt.source == "console":
        conditions.append(Member.source_id.is_(None))
    elif flt.source.isdigit():
        conditions.append(Member.source_id == int(flt.source))
    if flt.department_id is not None:
        under = department_ids_under(org_id, flt.department_id)
        conditions.append(Member.id.in_(
            select(member_departments.c.member_id).where(member_departments.c.department_id.in_(under))
        ))
    return conditions


#: up to this many matches of a search or department filter, the page sorts the matches (see list_members)
SORT_MATCHES_UP_TO = 20_000


def member_page_ids(org_id: int, flt: MemberFilter, total: int, *, limit: int, offset: int) -> Select[tuple[int]]:
    """The ids of one page of the Members tab, by name, answered from indexes."""
    sort_key: Any = Member.name_norm
    if (flt.search.strip() or flt.department_id is not None) and total <= SORT_MATCHES_UP_TO:
        # Few matches: collect them through the search indexes and sort them. Ordering by the bare
        # column would let the database walk the whole name index in order, hoping to meet 50
        # matches early, which reads every member when the matches are rare or sit late in the
        # alphabet. lower() of the already lower-cased name sorts the same and cannot use that index.
        sort_key = func.lower(Member.name_norm)
    return (select(Member.id).where(*member_conditions(org_id, flt)).order_by(sort_key, Member.id)
            .limit(limit).offset(offset))


def list_members(org_id: int, flt: MemberFilter, *, limit: int, offset: int) -> tuple[list[Member], int]:
    """A page of members by name with what the table shows loaded in bulk, and the total that match."""
    total = db.session.scalar(select(func.count(Member.id)).where(*member_conditions(org_id, flt))) or 0
    # Only the page's rows are read: a deep page does not read every row before it.
    page_ids = member_page_ids(org_id, flt, total, limit=limit, offset=offset).scalar_subquery()
    rows = db.session.scalars(
        select(Member).where(Member.id.in_(page_ids))
        .options(selectinload(Member.departments), joinedload(Member.job_title),
                 joinedload(Member.employee_type), joinedload(Member.source))
        .order_by(Member.name_norm, Member.id)
    ).unique()
    return list(rows), total


def member_sync_log(member: Member, limit: int = 10) -> list[SyncLog]:
    """The member's latest sync log entries (by its SCIM id), newest first."""
    return list(db.session.scalars(
        select(SyncLog).options(joinedload(SyncLog.source))
        .where(SyncLog.org_id == member.org_id, SyncLog.object_id == member.public_id)
        .order_by(SyncLog.created_at.desc(), SyncLog.id.desc()).limit(limit)
    ))


# ---------------------------------------------------------------- departments: tree, deletion


@dataclass
class DepartmentNode:
    """A department of the tree with its member count (sub-departments included) and children."""

    department: Department
    direct_members: int = 0
    members: int = 0
    children: list[DepartmentNode] = dataclass_field(default_factory=list)

    @property
    def path_ids(self) -> list[int]:
        return [self.department.id] + [i for c in self.children for i in c.path_ids]


def department_tree(org_id: int, *, counts: bool = True) -> tuple[DepartmentNode, dict[int, DepartmentNode]]:
    """The organization's department tree, with member counts unless ``counts`` is False.

    One query for the departments and one grouped count: the tree costs the
    same for ten departments or a thousand.
    """
    depts = list(db.session.scalars(
        select(Department).options(joinedload(Department.source))
        .where(Department.org_id == org_id).order_by(Department.name_norm, Department.id)
    ))
    direct: dict[int, int] = {}
    if counts:
        direct = dict(db.session.execute(
            select(member_departments.c.department_id, func.count())
            .join(Department, Department.id == member_departments.c.department_id)
            .where(Department.org_id == org_id).group_by(member_departments.c.department_id)
        ).all())
    nodes = {d.id: DepartmentNode(d, direct_members=direct.get(d.id, 0)) for d in depts}
    root = None
    for node in nodes.values():
        parent_id = node.department.parent_id
        if parent_id is None:
            root = node
        elif parent_id in nodes:
            nodes[parent_id].children.append(node)
    if root is None:
        raise NotFound("The organization has no root department")

    def total(node: DepartmentNode) -> int:
        node.members = node.direct_members + sum(total(c) for c in node.children)
        return node.members

    if counts:
        total(root)
        # Everyone belongs to the organization, in a department or not.
        root.members = db.session.scalar(select(func.count(Member.id)).where(Member.org_id == org_id)) or 0
    return root, nodes


def delete_department(org_id: int, department_id: int, actor: Actor) -> None:
    """Delete an empty department: no members and no sub-departments; the root stays."""
    dept = get_department(org_id, department_id)
    if dept.parent_id is None:
        raise Invalid("The organization's root department cannot be deleted", field="department")
    if db.session.scalar(select(Department.id).where(Department.parent_id == dept.id).limit(1)) is not None:
        raise Invalid(f"{dept.name} has sub-departments; move or delete them first", field="department")
    if db.session.scalar(select(member_departments.c.member_id)
                         .where(member_departments.c.department_id == dept.id).limit(1)) is not None:
        raise Invalid(f"{dept.name} has members; move them to another department first", field="department")
    snapshot = _department_snapshot(dept)
    dept_id, name = dept.id, dept.name
    db.session.delete(dept)
    db.session.flush()
    admin_log.record(actor, org_id, "Delete department", target_type="department", target_id=dept_id, target_name=name,
                 changes=admin_log.diff(snapshot, {}))


# ---------------------------------------------------------------- user groups by hand


def get_group(org_id: int, group_id: int) -> UserGroup:
    """A user group of the organization, or NotFound."""
    group = db.session.get(UserGroup, group_id)
    if group is None or group.org_id != org_id:
        raise NotFound("No such user group")
    return group


def list_groups(org_id: int, *, search: str = "", limit: int, offset: int) -> tuple[list[tuple[UserGroup, int]], int]:
    """A page of user groups by name with their member counts (one grouped query), and the total."""
    conditions: list[Any] = [UserGroup.org_id == org_id]
    if search.strip():
        conditions.append(_prefix(UserGroup.display_name_norm, search.strip().lower()))
    total = db.session.scalar(select(func.count(UserGroup.id)).where(*conditions)) or 0
    counts = (select(group_members.c.group_id, func.count().label("n"))
              .group_by(group_members.c.group_id).subquery())
    rows = db.session.execute(
        select(UserGroup, func.coalesce(counts.c.n, 0))
        .options(joinedload(UserGroup.source))
        .outerjoin(counts, counts.c.group_id == UserGroup.id)
        .where(*conditions).order_by(UserGroup.display_name_norm, UserGroup.id).limit(limit).offset(offset)
    ).all()
    return [(g, n) for g, n in rows], total


def group_members_page(group: UserGroup, *, limit: int, offset: int) -> tuple[list[Member], int]:
    """A page of the group's members by name, and how many it has."""
    where = Member.id.in_(select(group_members.c.member_id).where(group_members.c.group_id == group.id))
    total = db.session.scalar(select(func.count(Member.id)).where(where)) or 0
    rows = db.session.scalars(select(Member).options(joinedload(Member.source)).where(where)
                              .order_by(Member.name_norm, Member.id).limit(limit).offset(offset))
    return list(rows), total


def _hand_made_group(group: UserGroup) -> None:
    if group.source_id is not None:
        raise Invalid(f"{group.display_name} is managed by the sync source {group.source.name}; "
                      "change it in the identity provider", field="display_name")


def _group_conflict(name: str) -> Conflict:
    return Conflict(f"A user group named {name!r} already exists", field="display_name")


def create_group(org_id: int, display_name: str, actor: Actor, description: str | None = None) -> UserGroup:
    """Create a user group by hand (data source Admin Console)."""
    name = (display_name or "").strip()
    if not name:
        raise Invalid("Enter the user group's name", field="display_name")
    group = UserGroup(org_id=org_id, display_name=name, description=_clean(description), source_id=actor.source_id)
    try:
        with unique_flush():
            db.session.add(group)
    except Conflict as exc:
        raise _group_conflict(name) from exc
    admin_log.record(actor, org_id, "Add user group", target_type="group", target_id=group.public_id,
                 target_name=name, changes={"display_name": [None, name]})
    return group


def update_group(org_id: int, group_id: int, actor: Actor, *, display_name: str | None = None,
                 description: str | None = None) -> UserGroup:
    """Rename or describe a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    before = {"display_name": group.display_name, "description": group.description}
    name = (display_name or "").strip() if display_name is not None else group.display_name
    if not name:
        raise Invalid("Enter the user group's name", field="display_name")
    try:
        with unique_flush():
            group.display_name = name
            if description is not None:
                group.description = _clean(description)
    except Conflict as exc:
        raise _group_conflict(name) from exc
    changes = admin_log.diff(before, {"display_name": group.display_name, "description": group.description})
    if changes:
        admin_log.record(actor, org_id, "Edit user group", target_type="group", target_id=group.public_id,
                     target_name=group.display_name, changes=changes)
    return group


def add_group_member(org_id: int, group_id: int, who: str, actor: Actor) -> Member:
    """Add a member, named by email or userName, to a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    key = norm(who) or ""
    member = db.session.scalar(select(Member).where(
        Member.org_id == org_id, or_(Member.email_norm == key, Member.external_id_norm == key)))
    if member is None:
        raise Invalid("No member has this email or user ID", field="member")
    already = db.session.scalar(select(group_members.c.member_id).where(
        group_members.c.group_id == group.id, group_members.c.member_id == member.id))
    if already is None:
        db.session.execute(group_members.insert().values(group_id=group.id, member_id=member.id))
        db.session.expire(group, ["members"])
        admin_log.record(actor, org_id, "Edit user group", target_type="group", target_id=group.public_id,
                     target_name=group.display_name, changes={"members": [None, f"+ {member.email}"]})
    return member


def remove_group_member(org_id: int, group_id: int, member_id: int, actor: Actor) -> None:
    """Take a member out of a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    member = get_member(org_id, member_id)
    removed = db.session.execute(group_members.delete().where(
        group_members.c.group_id == group.id, group_members.c.member_id == member.id)).rowcount
    if removed:
        db.session.expire(group, ["members"])
        admin_log.record(actor, org_id, "Edit user group", target_type="group", target_id=group.public_id,
                     target_name=group.display_name, changes={"members": [f"- {member.email}", None]})


def delete_group(org_id: int, group_id: int, actor: Actor) -> None:
    """Delete a user group made by hand; its members stay."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    public_id, name = group.public_id, group.display_name
    db.session.delete(group)
    db.session.flush()
    admin_log.record(actor, org_id, "Delete user group", target_type="group", target_id=public_id, target_name=name,
                 changes={"display_name": [name, None]})


# ---------------------------------------------------------------- Field Management

FIELD_TYPES = {"text": "Text", "number": "Number", "date": "Date", "option": "Option"}


def list_fields(org_id: int) -> list[Field]:
    """The organization's member fields: the 12 standard ones in the seed's order, then custom ones."""
    return list(db.session.scalars(
        select(Field).where(Field.org_id == org_id).order_by(Field.standard.desc(), Field.position, Field.id)))


def get_field(org_id: int, field_id: int) -> Field:
    """A member field of the organization, or NotFound."""
    found = db.session.get(Field, field_id)
    if found is None or found.org_id != org_id:
        raise NotFound("No such field")
    return found


def create_field(org_id: int, name: str, field_type: str, actor: Actor, options: list[str] | None = None) -> Field:
    """Add a custom member field (text, number, date or option)."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Enter the field's name", field="name")
    if field_type not in FIELD_TYPES:
        raise Invalid("Choose a field type: text, number, date or option", field="field_type")
    choices = [o.strip() for o in options or [] if o and o.strip()]
    if field_type == "option" and not choices:
        raise Invalid("An option field needs at least one option", field="options")
    if len(set(c.lower() for c in choices)) != len(choices):
        raise Invalid("Each option may appear once", field="options")
    position = (db.session.scalar(select(func.max(Field.position)).where(Field.org_id == org_id)) or 0) + 1
    created = Field(org_id=org_id, key=f"custom_{uuid.uuid4().hex[:12]}", name=name, field_type=field_type,
                    options=choices if field_type == "option" else [], standard=False, scim_attribute=None,
                    required=False, unique=False, position=position)
    try:
        with unique_flush():
            db.session.add(created)
    except Conflict as exc:
        raise Conflict(f"A field named {name!r} already exists", field="name") from exc
    admin_log.record(actor, org_id, "Add field", target_type="field", target_id=created.id, target_name=name,
                 changes={"name": [None, name], "type": [None, field_type], "options": [None, created.options or None]})
    return created


def delete_field(org_id: int, field_id: int, actor: Actor) -> None:
    """Delete a custom field; the standard fields of the attribute table stay."""
    found = get_field(org_id, field_id)
    if found.standard:
        raise Invalid("Standard fields cannot be deleted", field="field")
    name = found.name
    db.session.delete(found)
    db.session.flush()
    admin_log.record(actor, org_id, "Delete field", target_type="field", target_id=field_id, target_name=name,
                 changes={"name": [name, None]})


@dataclass(frozen=True)
class FieldSource:
    """Where a field's values come from: a sync source and its SCIM attribute, or the Admin Console."""

    label: str
    attribute: str | None = None

    @property
    def text(self) -> str:
        return f"{self.label}: {self.attribute}" if self.attribute else self.label


ENTERPRISE_PREFIX = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"


def scim_attribute_label(attribute: str | None) -> str | None:
    """A SCIM attribute as the seed's table writes it: the enterprise URN shortened to ``EnterpriseExtension.``."""
    if attribute and attribute.startswith(ENTERPRISE_PREFIX):
        return "EnterpriseExtension." + attribute[len(ENTERPRISE_PREFIX):]
    return attribute


def field_sources(org_id: int, found: Field) -> list[FieldSource]:
    """Each sync source of the organization that writes the field, with the SCIM attribute it reads."""
    if not found.standard or not found.scim_attribute:
        return []
    sources = db.session.scalars(select(SyncSource).where(
        SyncSource.org_id == org_id, SyncSource.deleted_at.is_(None)).order_by(SyncSource.name, SyncSource.id))
    return [FieldSource(f"{s.name} (SCIM)", scim_attribute_label(found.scim_attribute)) for s in sources]
