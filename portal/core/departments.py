"""Departments: the organization's tree, made by hand or by a sync source."""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.core import admin_log, events
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.text import clean_text
from portal.core.unique import unique_flush
from portal.extensions import db
from portal.models import (
    Department,
    Member,
    member_departments,
    norm,
)


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


def _record(org_id: int, actor: Actor | events.EventActor, kind: str, dept: Department) -> None:
    """A department's created or deleted event, with the department as it is (was)."""
    events.record(org_id, actor, events.Change(kind, "department", dept.public_id, events.department_attributes(dept)))


def create_department(org_id: int, name: str, actor: Actor, parent_id: int | None = None) -> Department:
    """Create a department by hand (data source Admin Console) under ``parent_id`` or the root."""
    name = clean_text(name, Department.name, label="Department name", field="name") or ""
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
    _record(org_id, actor, "department.created", dept)
    if actor.kind != "source":
        admin_log.record(
            actor,
            org_id,
            "Add department",
            target_type="department",
            target_id=dept.id,
            target_name=dept.name,
            changes=admin_log.diff({}, _department_snapshot(dept)),
        )
    return dept


def synced_name_reason(dept: Department) -> str:
    """Why a synced department's name cannot be changed by hand: its sync source names it.

    A sync source finds a member's department by name: renamed here, its next create with the old
    name would make a second department of that name.
    """
    source = dept.source.name if dept.source is not None else "its sync source"
    return (
        f"The name comes from the sync source {source} (SCIM data source): change it in the identity provider. "
        "A name changed here would make the source create the department again."
    )


def _resort_members(department_id: int) -> None:
    """After a rename, the Members page's department order (``members.department_sort``) of the department's
    members, in one statement: a member in several departments sorts by the first by name, maybe another now."""
    first = (
        select(func.min(Department.name_norm))
        .join(member_departments, member_departments.c.department_id == Department.id)
        .where(member_departments.c.member_id == Member.id)
        .scalar_subquery()
    )
    in_department = select(member_departments.c.member_id).where(member_departments.c.department_id == department_id)
    db.session.execute(
        update(Member).where(Member.id.in_(in_department)).values(department_sort=func.coalesce(first, "")),
        execution_options={"synchronize_session": False},
    )


def update_department(
    org_id: int, department_id: int, actor: Actor, *, name: str | None = None, parent_id: int | None = None
) -> Department:
    """Rename or move a department by hand; a move never makes a cycle, and a synced department keeps its name."""
    dept = get_department(org_id, department_id)
    if dept.parent_id is None:
        raise Invalid("The organization's root department cannot be renamed or moved here", field="name")
    before = _department_snapshot(dept)
    attributes_before = events.department_attributes(dept)
    if name is not None:
        name = clean_text(name, Department.name, label="Department name", field="name") or ""
        if not name:
            raise Invalid("Enter a department name", field="name")
        if name != dept.name and dept.source_id is not None:
            raise Invalid(synced_name_reason(dept), field="name")
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
    if name is not None and norm(name) != norm(before["name"]):
        _resort_members(dept.id)
    attributes = events.department_attributes(dept)
    fields = events.updated_fields(attributes_before, attributes)
    if fields:
        change = events.Change(
            "department.updated", "department", dept.public_id, {k: attributes[k] for k in fields}, fields
        )
        events.record(org_id, actor, change)
    changes = admin_log.diff(before, _department_snapshot(dept))
    if changes:
        admin_log.record(
            actor,
            org_id,
            "Edit department",
            target_type="department",
            target_id=dept.id,
            target_name=dept.name,
            changes=changes,
        )
    return dept


_departments = Department.__table__


def department_by_name(name: str) -> Select[Any]:
    """(id, name, public id) of the department a name means, with the name as bind parameter ``name``: any
    level but the root, the oldest first (a sync source names a department by name alone)."""
    return (
        select(_departments.c.id, _departments.c.name, _departments.c.public_id)
        .where(
            _departments.c.org_id == bindparam("org_id"),
            _departments.c.name_norm == bindparam(name),
            _departments.c.parent_id.is_not(None),
        )
        .order_by(_departments.c.id)
        .limit(1)
    )


_DEPARTMENT_BY_NAME = department_by_name("name")


def lookup_department(org_id: int, name: str) -> tuple[int, str] | None:
    """(id, name) of the department ``name`` means (``department_by_name``), or None."""
    row = db.session.connection().execute(_DEPARTMENT_BY_NAME, {"org_id": org_id, "name": norm(name)}).first()
    return (row[0], row[1]) if row is not None else None


def find_or_create_department(org_id: int, name: str, source_id: int | None) -> tuple[Department, bool]:
    """The department named ``name`` (any level, top level first), or a new one under the root.

    Returns the department and whether it was created. A department created here
    has ``source_id`` (a sync source, or None for the Admin Console) as its data source.
    """
    name = name.strip()
    found = lookup_department(org_id, name)
    if found is not None:
        return db.session.get_one(Department, found[0]), False
    root = root_department(org_id)
    try:
        with db.session.begin_nested():
            dept = Department(org_id=org_id, parent_id=root.id, name=name, source_id=source_id)
            db.session.add(dept)
            db.session.flush()
        _record(org_id, events.source_actor_by_id(source_id), "department.created", dept)
        return dept, True
    except IntegrityError:
        # Another request created it between our look and our insert.
        existing = db.session.scalar(
            select(Department).where(
                Department.org_id == org_id, Department.parent_id == root.id, Department.name_norm == norm(name)
            )
        )
        if existing is None:
            raise
        return existing, False


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
    depts = list(
        db.session.scalars(
            select(Department)
            .options(joinedload(Department.source))
            .where(Department.org_id == org_id)
            .order_by(Department.name_norm, Department.id)
        )
    )
    direct: dict[int, int] = {}
    if counts:
        direct = dict(
            db.session.execute(
                select(member_departments.c.department_id, func.count())
                .join(Department, Department.id == member_departments.c.department_id)
                .where(Department.org_id == org_id)
                .group_by(member_departments.c.department_id)
            ).all()
        )
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
    if (
        db.session.scalar(
            select(member_departments.c.member_id).where(member_departments.c.department_id == dept.id).limit(1)
        )
        is not None
    ):
        raise Invalid(f"{dept.name} has members; move them to another department first", field="department")
    snapshot = _department_snapshot(dept)
    dept_id, name = dept.id, dept.name
    _record(org_id, actor, "department.deleted", dept)
    db.session.delete(dept)
    db.session.flush()
    admin_log.record(
        actor,
        org_id,
        "Delete department",
        target_type="department",
        target_id=dept_id,
        target_name=name,
        changes=admin_log.diff(snapshot, {}),
    )
