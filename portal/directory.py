"""Members, departments, job titles, workforce types, user groups and organizations.

Every function takes plain values and an ``Actor``, flushes, and leaves the commit
to the door. Uniqueness is held by the database; ``unique_flush`` turns its
IntegrityError into a ``Conflict`` naming the field.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from . import audit, passwords
from .actors import Actor
from .errors import Conflict, Invalid, NotFound
from .extensions import db
from .models import (
    DEFAULT_WORKFORCE_TYPES,
    Admin,
    Department,
    Field,
    JobTitle,
    Member,
    Organization,
    WorkforceType,
    norm,
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
        text = str(exc.orig)
        for column, field in _UNIQUE_COLUMNS:
            if column in text:
                raise Conflict(f"{field} is already taken in this organization", field=field) from exc
        raise


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
    audit.record(actor, org.id, "Create organization", target_type="organization", target_id=org.id,
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
        audit.record(actor, org.id, "Add administrator", target_type="admin", target_id=admin.id,
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
        audit.record(actor, org_id, "Add department", target_type="department", target_id=dept.id,
                     target_name=dept.name, changes=audit.diff({}, _department_snapshot(dept)))
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
    changes = audit.diff(before, _department_snapshot(dept))
    if changes:
        audit.record(actor, org_id, "Edit department", target_type="department", target_id=dept.id,
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
    try:
        with db.session.begin_nested():
            title = JobTitle(org_id=org_id, name=name, source_id=actor.source_id)
            db.session.add(title)
            db.session.flush()
        return title, True
    except IntegrityError:
        existing = db.session.scalar(select(JobTitle).where(JobTitle.org_id == org_id, JobTitle.name_norm == norm(name)))
        if existing is None:
            raise
        return existing, False


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
    audit.record(actor, org_id, "Add member", target_type="member", target_id=member.public_id,
                 target_name=member.name, changes=audit.diff({}, member_snapshot(member)))
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
    changes = audit.diff(before, member_snapshot(member))
    if changes:
        audit.record(actor, org_id, "Edit member", target_type="member", target_id=member.public_id,
                     target_name=member.name, changes=changes)
    return member
