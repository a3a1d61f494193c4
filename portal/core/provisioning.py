"""Members and user groups written by a sync source (the SCIM door's domain operations).

Values come in as member fields (``scim_blueprint.mapping`` does the SCIM side).
Each operation checks the rules on the final state, flushes, and writes exactly
one sync log row; the door commits. A rule that refuses raises a domain error
and the door rolls everything back before logging the failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.core import admin_log, directory, members, sync_sources, sync_log
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound, PreconditionFailed
from portal.extensions import db
from portal.core.members import MemberRecord
from portal.models import (
    Department,
    JobTitle,
    Member,
    SyncSource,
    UserGroup,
    WorkforceType,
    group_members,
    new_public_id,
    norm,
    utcnow,
)
from portal.core.sync_sources import Source
from portal.core.sync_log import RequestInfo

_T = TypeVar("_T")

#: member values a request sets as plain columns
_PLAIN = members.PLAIN_FIELDS

#: the match attributes a source may choose, as stored columns
_MATCH_COLUMNS = {name: members.MATCH_COLUMNS[name] for name in ("email", "employee_id", "mobile")}
_MATCH_LABELS = {"email": "email", "employee_id": "employee ID", "mobile": "mobile"}


# ---------------------------------------------------------------- lookups


def get_member(source: Source, public_id: str) -> MemberRecord:
    """A member the source manages, by SCIM id, or NotFound."""
    record = members.get(source.org_id, source.id, public_id)
    if record is None:
        raise NotFound(f"User {public_id} not found")
    return record


def get_group(source: Source, public_id: str) -> UserGroup:
    """A user group the source manages, by SCIM id, or NotFound (its members are not loaded)."""
    group = db.session.scalar(
        select(UserGroup).where(UserGroup.public_id == public_id, UserGroup.org_id == source.org_id,
                                UserGroup.source_id == source.id)
    )
    if group is None:
        raise NotFound(f"Group {public_id} not found")
    return group


def check_version(obj: Member | MemberRecord | UserGroup, if_match: str | None) -> None:
    """Refuse a write whose ``If-Match`` names another version (RFC 7644 §3.14)."""
    if not if_match or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(obj.version) not in wanted:
        raise PreconditionFailed(f"The resource changed: its version is W/\"{obj.version}\", not {if_match}")


def _orm_member(record: MemberRecord) -> Member:
    """The ORM object of a member read as a record, at the version read (else the write lost a race)."""
    member = db.session.get(Member, record.id, populate_existing=True)
    if member is None:
        raise NotFound(f"User {record.public_id} not found")
    if member.version != record.version:
        raise StaleDataError(f"members row {record.id} changed since it was read")
    return member


# ---------------------------------------------------------------- members
#
# The common requests (a create that meets nobody, a PUT or PATCH of a member
# without a manager, a suspend) run as a few SQL Core statements on records
# (portal.core.members). The rest (linking an existing member, a manager
# reference, the Delete rule) runs through the ORM, where those rules live;
# both write the same rows and the same sync log row.


@dataclass
class _Resolved:
    """What a member's values refer to, looked up before anything is changed."""

    job_title: JobTitle | None = None
    department: Department | None = None
    employee_type: WorkforceType | None = None
    manager: Member | None = None
    manager_ref: str | None = None
    associated: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _require(values: dict[str, Any]) -> None:
    """The seed's required attributes, and userName equal to the work email (any case)."""
    if not values.get("external_id"):
        raise Invalid("userName is required", field="userName")
    if not values.get("name"):
        raise Invalid("displayName is required", field="displayName")
    email = values.get("email")
    if not email:
        raise Invalid('A work email is required (emails[type eq "work"].value)', field="emails")
    if "@" not in email:
        raise Invalid(f"The work email {email!r} is not an email address", field="emails")
    if norm(values["external_id"]) != norm(email):
        raise Invalid(f"userName {values['external_id']!r} must equal the work email {email!r}", field="userName")


def _resolve_manager(source: Source, ref: str, member: Member | None) -> Member | None:
    """The member a manager reference names: its SCIM id, else its userName, else its externalId."""
    for column in (Member.public_id, Member.external_id_norm, Member.scim_external_id):
        wanted = norm(ref) if column is Member.external_id_norm else ref
        found = db.session.scalars(
            select(Member).where(Member.org_id == source.org_id, column == wanted).order_by(Member.id).limit(1)
        ).first()
        if found is not None:
            return None if member is not None and found.id == member.id else found
    return None


def _workforce_type(source: Source, values: dict[str, Any], notes: list[str]) -> WorkforceType | None:
    if not values.get("user_type"):
        return None
    found = sync_sources.workforce_type_for(source, values["user_type"])
    if found is None:
        notes.append(f"No workforce type rule for userType {values['user_type']!r}: workforce type left empty")
    return found


def _resolve(source: Source, values: dict[str, Any], member: Member | None) -> _Resolved:
    """Find or create the title and department, map the workforce type, find the manager.

    Runs before the member changes, so a lookup's flush never meets a half-made member.
    """
    actor = Actor.for_source(source)
    out = _Resolved()
    if values.get("job_title"):
        out.job_title, created = directory.find_or_create_job_title(source.org_id, values["job_title"], actor)
        out.associated.append({"type": "job_title", "name": out.job_title.name, "created": created})
    if values.get("department"):
        out.department, created = directory.find_or_create_department(source.org_id, values["department"], actor)
        out.associated.append({"type": "department", "name": out.department.name, "created": created})
    out.employee_type = _workforce_type(source, values, out.notes)
    ref = values.get("manager")
    if ref:
        out.manager = _resolve_manager(source, ref, member)
        out.manager_ref = None if out.manager is not None and out.manager.public_id == ref else ref
        if out.manager is None:
            out.notes.append(f"Manager {ref!r} is not a member of the organization: kept as a reference")
    return out


@dataclass
class _Refs:
    """The title, department and workforce type a record's values name, as (id, name)."""

    job_title: tuple[int, str] | None = None
    department: tuple[int, str] | None = None
    employee_type: tuple[int, str] | None = None
    associated: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _resolve_refs(source: Source, values: dict[str, Any], title: tuple[int, str] | None = None,
                  department: tuple[int, str] | None = None) -> _Refs:
    """``_resolve`` without a manager: looked up in SQL Core (or given, already looked up), created when missing."""
    out = _Refs()
    if values.get("job_title"):
        out.job_title, created = title or members.lookup_title(source.org_id, values["job_title"]), False
        if out.job_title is None:
            out.job_title, created = directory.make_job_title(source.org_id, values["job_title"], source.id)
        out.associated.append({"type": "job_title", "name": out.job_title[1], "created": created})
    if values.get("department"):
        out.department = department or members.lookup_department(source.org_id, values["department"])
        created = False
        if out.department is None:
            made_department, created = directory.find_or_create_department(source.org_id, values["department"],
                                                                           Actor.for_source(source))
            out.department = (made_department.id, made_department.name)
        out.associated.append({"type": "department", "name": out.department[1], "created": created})
    employee_type = _workforce_type(source, values, out.notes)
    if employee_type is not None:
        out.employee_type = (employee_type.id, employee_type.name)
    return out


def _kept_refs(member: MemberRecord, values: dict[str, Any]) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
    """The member's own title and department when the values name them again (any case): no lookup needed.

    A member already in a department of that name stays in it, even when another
    department of the same name exists elsewhere in the tree.
    """
    title = department = None
    if values.get("job_title") and member.job_title_id is not None and norm(values["job_title"]) == norm(member.job_title):
        title = (member.job_title_id, member.job_title or "")
    if values.get("department") and len(member.departments) == 1 \
            and norm(values["department"]) == norm(member.departments[0][1]):
        department = member.departments[0]
    return title, department


def _record_values(values: dict[str, Any], refs: _Refs) -> dict[str, Any]:
    """The record fields a member's values and their references set (status only when ``active`` is sent)."""
    out: dict[str, Any] = {key: values.get(key) for key in members.PLAIN_FIELDS}
    out.update(
        job_title_id=refs.job_title[0] if refs.job_title else None,
        job_title=refs.job_title[1] if refs.job_title else None,
        employee_type_id=refs.employee_type[0] if refs.employee_type else None,
        employee_type=refs.employee_type[1] if refs.employee_type else None,
        departments=[refs.department] if refs.department else [],
    )
    if "active" in values:
        out["status"] = "active" if values["active"] else "inactive"
    return out


def _newly_given(associated: list[dict[str, Any]], changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Associated objects worth a line: those created now, and those newly given to the member."""
    return [a for a in associated
            if a["created"] or {"job_title": "job_title", "department": "departments"}[a["type"]] in changes]


def _assign(member: Member, values: dict[str, Any], resolved: _Resolved) -> None:
    for key in _PLAIN:
        setattr(member, key, values.get(key))
    member.job_title = resolved.job_title
    member.employee_type = resolved.employee_type
    member.manager = resolved.manager
    member.manager_ref = resolved.manager_ref
    wanted_departments = [resolved.department] if resolved.department is not None else []
    if [d.id for d in member.departments] != [d.id for d in wanted_departments]:
        member.departments = wanted_departments
    if "active" in values:
        member.status = "active" if values["active"] else "inactive"


def _find_existing(source: Source, values: dict[str, Any]) -> tuple[Member | None, str | None]:
    """An existing member of the organization this create is about: by userName, then the match attributes."""
    by_name = db.session.scalar(
        select(Member).where(Member.org_id == source.org_id, Member.external_id_norm == norm(values["external_id"]))
    )
    if by_name is not None:
        return by_name, "userName"
    for attribute in source.match_attributes or []:
        value = values.get(attribute)
        if not value or attribute not in _MATCH_COLUMNS:
            continue
        wanted = norm(value) if attribute == "email" else value
        found = db.session.scalars(
            select(Member).where(Member.org_id == source.org_id, _MATCH_COLUMNS[attribute] == wanted)
            .order_by(Member.id).limit(1)
        ).first()
        if found is not None:
            return found, attribute
    return None, None


def _check_linkable(source: Source, member: Member, how: str) -> None:
    """A member managed by this source already exists (409), or by another active source (409)."""
    label = "userName" if how == "userName" else _MATCH_LABELS[how]
    if member.source_id == source.id:
        raise Conflict(f"A user with this {label} already exists", field="userName" if how == "userName" else how)
    if member.source_id is not None:
        other = db.session.get(SyncSource, member.source_id)
        if other is not None and other.status == "active" and not other.is_deleted:
            raise Conflict(
                f"The member with this {label} is managed by another active sync source ({other.name})",
                field="userName" if how == "userName" else how,
            )


def _status_operation(before: str | None, after: str) -> str:
    if before == "active" and after == "inactive":
        return "deactivate"
    if before == "inactive" and after == "active":
        return "reactivate"
    return "update"


def _state(member: Member) -> dict[str, Any]:
    """The member as the sync log shows it: the directory's snapshot plus the SCIM-only values."""
    state = directory.member_snapshot(member)
    state.update(
        user_type=member.user_type,
        manager=member.manager.external_id if member.manager is not None else member.manager_ref,
        scim_external_id=member.scim_external_id,
    )
    return state


def _write_member(member: Member, values: dict[str, Any], resolved: _Resolved, before: dict[str, Any],
                  *, new: bool) -> dict[str, Any]:
    """Assign the values, flush (a unique violation becomes Conflict), return the change set."""
    with directory.unique_flush():
        _assign(member, values, resolved)
        if new:
            db.session.add(member)
        changes = admin_log.diff(before, _state(member))
        if changes and not new:
            member.updated_at = utcnow()  # a departments-only change still bumps the version
    resolved.associated = _newly_given(resolved.associated, changes)
    return changes


def _unique(write: Callable[[], _T]) -> _T:
    """Run a Core write; a unique violation becomes Conflict naming the field (as ``directory.unique_flush``)."""
    try:
        return write()
    except IntegrityError as exc:
        conflict = directory.conflict_for(exc)
        if conflict is None:
            raise
        raise conflict from exc


def _probes(source: Source, values: dict[str, Any]) -> dict[str, Any]:
    """What ``_find_existing`` looks for: userName, then the source's match attributes, as stored."""
    probes = {"userName": norm(values["external_id"])}
    for attribute in source.match_attributes or []:
        value = values.get(attribute)
        if value and attribute in _MATCH_COLUMNS:
            probes[attribute] = norm(value) if attribute == "email" else value
    return probes


def _create_record(source: Source, values: dict[str, Any], info: RequestInfo | None) -> MemberRecord | None:
    """Create a member that meets nobody, in SQL Core; None when an existing member needs the ORM path."""
    matched, title, department = members.create_lookups(
        source.org_id, _probes(source, values), values.get("job_title"), values.get("department"))
    if matched:
        return None
    refs = _resolve_refs(source, values, title, department)
    now = utcnow()
    fields = {"status": "active", **_record_values(values, refs)}
    record = members.MemberRecord(
        id=0, public_id=new_public_id(), org_id=source.org_id, source_id=source.id, manager_ref=None,
        created_at=now, updated_at=now, version=1, manager_id=None, manager_public_id=None, manager_name=None,
        manager_external_id=None, **fields)
    changes = admin_log.diff({}, record.state())
    # The log row is built first: between the first INSERT and COMMIT, other writers wait.
    log_row = sync_log.entry(
        source.id, source.org_id, info, operation="create", result="success", status_code=201,
        object_type="member", object_id=record.public_id, object_name=record.external_id,
        changes=changes, associated=_newly_given(refs.associated, changes), notes=refs.notes,
    )
    record.id = _unique(lambda: members.insert_record(record))
    sync_log.write(log_row)
    return record


def create_member(source: Source, values: dict[str, Any], info: RequestInfo | None) -> tuple[MemberRecord, str]:
    """Create a member from a SCIM POST, or link the existing one it identifies; returns it and the operation."""
    _require(values)
    if not values.get("manager"):
        record = _create_record(source, values, info)
        if record is not None:
            return record, "create"
    existing, how = _find_existing(source, values)
    notes: list[str] = []
    if existing is not None:
        _check_linkable(source, existing, how or "userName")
        member, new, operation, before = existing, False, "link", _state(existing)
        notes.append(f"Linked to the existing member {existing.external_id} found by {how}")
        existing.source_id = source.id
    else:
        now = utcnow()
        member = Member(org_id=source.org_id, source_id=source.id, status="active", custom_fields={},
                        created_at=now, updated_at=now)
        new, operation, before = True, "create", {}
    resolved = _resolve(source, values, None if new else member)
    changes = _write_member(member, values, resolved, before, new=new)
    sync_log.record(
        source.id, source.org_id, info, operation=operation, result="success", status_code=201,
        object_type="member", object_id=member.public_id, object_name=member.external_id,
        changes=changes, associated=resolved.associated, notes=notes + resolved.notes,
    )
    return members.get_by_id(member.id), operation


def replace_member(source: Source, member: MemberRecord, values: dict[str, Any], info: RequestInfo | None,
                   *, if_match: str | None = None) -> MemberRecord:
    """Replace a member's values (PUT, and PATCH on its final state); left-out values are cleared.

    A member with a manager (or given one) is written through the ORM, the rest in SQL Core.
    """
    check_version(member, if_match)
    _require(values)
    if values.get("manager") or member.manager_id is not None or member.manager_ref:
        return _replace_through_orm(source, _orm_member(member), values, info)
    refs = _resolve_refs(source, values, *_kept_refs(member, values))
    after = members.copy(member, **_record_values(values, refs))
    changes = admin_log.diff(member.state(), after.state())
    log_row = sync_log.entry(
        source.id, source.org_id, info, operation=_status_operation(member.status, after.status),
        result="success", status_code=200, object_type="member", object_id=after.public_id,
        object_name=after.external_id, changes=changes, associated=_newly_given(refs.associated, changes),
        notes=refs.notes,
    )
    after = _unique(lambda: members.update_record(member, after, utcnow()))
    sync_log.write(log_row)
    return after


def _replace_through_orm(source: Source, member: Member, values: dict[str, Any],
                         info: RequestInfo | None) -> MemberRecord:
    status_before = member.status
    before = _state(member)
    resolved = _resolve(source, values, member)
    changes = _write_member(member, values, resolved, before, new=False)
    sync_log.record(
        source.id, source.org_id, info, operation=_status_operation(status_before, member.status),
        result="success", status_code=200, object_type="member", object_id=member.public_id,
        object_name=member.external_id, changes=changes, associated=resolved.associated, notes=resolved.notes,
    )
    return members.get_by_id(member.id)


def delete_member(source: Source, member: MemberRecord, info: RequestInfo | None, *,
                  if_match: str | None = None) -> None:
    """Apply the source's member deletion rule: suspend and unlink, or remove from the organization."""
    check_version(member, if_match)
    public_id, name = member.public_id, member.external_id
    if source.deletion_rule == "delete":
        orm = _orm_member(member)
        before = directory.member_snapshot(orm)
        db.session.execute(delete(group_members).where(group_members.c.member_id == member.id))
        db.session.execute(update(Member).where(Member.manager_id == member.id)
                           .values(manager_id=None, manager_ref=public_id)
                           .execution_options(synchronize_session=False))
        db.session.delete(orm)
        db.session.flush()
        changes, notes = admin_log.diff(before, {}), ["Member deletion rule: Delete member (removed from the organization)"]
    else:
        if not members.suspend(member, utcnow()):
            raise StaleDataError(f"members row {member.id} changed since it was read")
        changes = admin_log.diff({"status": member.status, "data_source": source.name},
                             {"status": "inactive", "data_source": "Admin Console"})
        notes = ["Member deletion rule: Suspend member (kept as Inactive, unlinked from the source)"]
    sync_log.record(source.id, source.org_id, info, operation="delete", result="success", status_code=204,
                   object_type="member", object_id=public_id, object_name=name, changes=changes, notes=notes)


# ---------------------------------------------------------------- groups


@dataclass
class GroupChange:
    """What a SCIM request changes in a group; member steps run in order, by member SCIM id.

    ``member_steps`` holds ("add" | "remove" | "replace", [ids]); ("replace", []) removes every member.
    """

    display_name: str | None = None
    set_display_name: bool = False
    scim_external_id: str | None = None
    set_external_id: bool = False
    member_steps: list[tuple[str, list[str]]] = field(default_factory=list)


def _member_ids(source: Source, public_ids: list[str]) -> dict[str, int]:
    """SCIM id -> internal id of members of the source's organization; an unknown id is invalid."""
    if not public_ids:
        return {}
    found: dict[str, int] = {}
    for chunk_start in range(0, len(public_ids), 500):
        chunk = public_ids[chunk_start:chunk_start + 500]
        found.update(db.session.execute(
            select(Member.public_id, Member.id).where(Member.org_id == source.org_id, Member.public_id.in_(chunk))
        ).all())
    unknown = [p for p in public_ids if p not in found]
    if unknown:
        raise Invalid(f"No member of this organization has the id(s): {', '.join(unknown[:10])}", field="members")
    return found


class _MemberDelta:
    """The net effect of member steps: who was added and who was removed."""

    def __init__(self) -> None:
        self.added: set[int] = set()
        self.removed: set[int] = set()

    def insert(self, ids: set[int]) -> None:
        self.added |= ids - self.removed
        self.removed -= ids

    def delete(self, ids: set[int]) -> None:
        self.removed |= ids - self.added
        self.added -= ids


def _current(group: UserGroup, among: set[int] | None = None) -> set[int]:
    stmt = select(group_members.c.member_id).where(group_members.c.group_id == group.id)
    if among is not None:
        stmt = stmt.where(group_members.c.member_id.in_(among))
    return set(db.session.scalars(stmt))


def _insert_memberships(group_id: int, member_ids: set[int]) -> None:
    """Insert group memberships; one added by a parallel request meanwhile is no error (adds commute)."""
    rows = [{"group_id": group_id, "member_id": i} for i in sorted(member_ids)]
    dialect = db.session.get_bind().dialect.name
    stmt = (postgresql.insert(group_members).on_conflict_do_nothing() if dialect == "postgresql"
            else sqlite.insert(group_members).on_conflict_do_nothing())
    db.session.execute(stmt, rows)


def _apply_member_steps(source: Source, group: UserGroup, steps: list[tuple[str, list[str]]]) -> _MemberDelta:
    """Run the member steps in SQL without loading the group's members."""
    delta = _MemberDelta()
    for kind, public_ids in steps:
        ids = set(_member_ids(source, list(dict.fromkeys(public_ids))).values())
        if kind == "replace":
            current = _current(group)
            gone, new = current - ids, ids - current
        elif kind == "add":
            gone, new = set(), (ids - _current(group, ids)) if ids else set()
        else:
            gone, new = (_current(group, ids) if ids else set()), set()
        if gone:
            db.session.execute(delete(group_members).where(group_members.c.group_id == group.id,
                                                           group_members.c.member_id.in_(gone)))
            delta.delete(gone)
        if new:
            _insert_memberships(group.id, new)
            delta.insert(new)
    db.session.expire(group, ["members"])
    return delta


def _names(member_ids: set[int]) -> list[str]:
    if not member_ids:
        return []
    return sorted(db.session.scalars(select(Member.external_id).where(Member.id.in_(member_ids))))


def _write_group(source: Source, group: UserGroup, change: GroupChange, *, new: bool,
                 if_match: str | None = None) -> dict[str, Any]:
    before = {} if new else {"displayName": group.display_name, "externalId": group.scim_external_id}
    version = group.version
    with directory.unique_flush():
        if change.set_display_name:
            if not change.display_name:
                raise Invalid("displayName is required", field="displayName")
            group.display_name = change.display_name
        if change.set_external_id:
            group.scim_external_id = change.scim_external_id
        if new:
            db.session.add(group)
    delta = _apply_member_steps(source, group, change.member_steps)
    changes = admin_log.diff(before, {"displayName": group.display_name, "externalId": group.scim_external_id})
    if delta.added:
        changes["members added"] = [None, _names(delta.added)]
    if delta.removed:
        changes["members removed"] = [_names(delta.removed), None]
    if (delta.added or delta.removed) and not new and group.version == version:
        # A members-only change still bumps the version. Without If-Match it bumps in SQL:
        # membership steps commute, so parallel adds (Okta, Entra) all apply instead of
        # failing with 412 (RFC 7644 §3.14: 412 answers a failed If-Match only).
        if if_match and if_match.strip() != "*":
            group.updated_at = utcnow()
            db.session.flush()
        else:
            db.session.execute(update(UserGroup).where(UserGroup.id == group.id)
                               .values(version=UserGroup.version + 1, updated_at=utcnow())
                               .execution_options(synchronize_session=False))
            db.session.expire(group, ["version", "updated_at"])
    return changes


def create_group(source: Source, change: GroupChange, info: RequestInfo | None) -> UserGroup:
    """Create a user group from a SCIM POST, with this source as its data source."""
    now = utcnow()
    group = UserGroup(org_id=source.org_id, source_id=source.id, created_at=now, updated_at=now)
    changes = _write_group(source, group, change, new=True)
    sync_log.record(source.id, source.org_id, info, operation="create", result="success", status_code=201,
                   object_type="group", object_id=group.public_id, object_name=group.display_name, changes=changes)
    return group


def update_group(source: Source, group: UserGroup, change: GroupChange, info: RequestInfo | None,
                 *, if_match: str | None = None) -> UserGroup:
    """Change a user group (PUT or PATCH): name, externalId and members, in SQL."""
    check_version(group, if_match)
    changes = _write_group(source, group, change, new=False, if_match=if_match)
    sync_log.record(source.id, source.org_id, info, operation="update", result="success", status_code=200,
                   object_type="group", object_id=group.public_id, object_name=group.display_name, changes=changes)
    return group


def delete_group(source: Source, group: UserGroup, info: RequestInfo | None, *, if_match: str | None = None) -> None:
    """Delete a user group; its members stay untouched."""
    check_version(group, if_match)
    public_id, name = group.public_id, group.display_name
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id))
    db.session.delete(group)
    db.session.flush()
    sync_log.record(source.id, source.org_id, info, operation="delete", result="success", status_code=204,
                   object_type="group", object_id=public_id, object_name=name,
                   changes={"displayName": [name, None]})
