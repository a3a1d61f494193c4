"""What a sync source does to members and user groups (the SCIM door's domain operations).

Values come in as member fields (``scim_blueprint.mapping`` does the SCIM side).
On top of ``portal.core.members`` and ``portal.core.groups``, which write the
rows, this module adds what belongs to a source: the identity rules, matching
and linking an existing member or user group on create (only an unmanaged one:
``_check_linkable``, ``_linkable_group``), the workforce type rules, the member
deletion rule, and exactly one Sync log row per operation. The door commits; a
rule that refuses raises a domain error and the door rolls everything back before
logging the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from portal.core import admin_log, members, sync_log, sync_sources
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound, PreconditionFailed
from portal.core.groups import GroupChange, delete_group_record, write_group
from portal.core.members import MemberRecord
from portal.core.sync_log import RequestInfo
from portal.core.sync_sources import Source
from portal.extensions import db
from portal.models import SyncSource, UserGroup, norm, utcnow

__all__ = [
    "GroupChange",
    "managed_member",
    "provision_member",
    "replace_member",
    "deprovision_member",
    "managed_group",
    "provision_group",
    "change_group",
    "deprovision_group",
    "check_version",
]

#: the match attributes a source may choose, and how a conflict names them
_MATCH_LABELS = {"email": "email", "employee_id": "employee ID", "mobile": "mobile", "scim_external_id": "externalId"}
#: the field a conflict on a match attribute names (the SCIM attribute)
_MATCH_FIELDS = {
    "userName": "userName",
    "email": "email",
    "employee_id": "employeeNumber",
    "mobile": "phoneNumbers",
    "scim_external_id": "externalId",
}


# ---------------------------------------------------------------- lookups


def managed_member(source: Source, public_id: str) -> MemberRecord:
    """A member the source manages, by SCIM id, or NotFound."""
    record = members.get(source.org_id, source.id, public_id)
    if record is None:
        raise NotFound(f"User {public_id} not found")
    return record


def managed_group(source: Source, public_id: str) -> UserGroup:
    """A user group the source manages, by SCIM id, or NotFound (its members are not loaded)."""
    group = db.session.scalar(
        select(UserGroup).where(
            UserGroup.public_id == public_id, UserGroup.org_id == source.org_id, UserGroup.source_id == source.id
        )
    )
    if group is None:
        raise NotFound(f"Group {public_id} not found")
    return group


def check_version(obj: MemberRecord | UserGroup, if_match: str | None) -> None:
    """Refuse a write whose ``If-Match`` names another version (RFC 7644 §3.14)."""
    if not if_match or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(obj.version) not in wanted:
        raise PreconditionFailed(f'The resource changed: its version is W/"{obj.version}", not {if_match}')


# ---------------------------------------------------------------- members


def _require(source: Source, values: dict[str, Any]) -> dict[str, Any]:
    """The values a member is written with, after the source's identity rules; or Invalid.

    RFC 7643 §4.1 requires only userName. A source with the rule "userName must equal the
    work email" (JumpCloud's rule for this product, the seed's note) also needs a work
    email equal to it, and a displayName. Otherwise the email is optional, and a missing
    displayName is name.formatted, else given + family name, else userName.
    """
    user_name = values.get("external_id")
    if not user_name or not str(user_name).strip():
        raise Invalid("userName is required", field="userName")
    _check_lengths(values)
    email = values.get("email")
    if email is not None and "@" not in email:
        raise Invalid(f"The work email {email!r} is not an email address", field="emails")
    if source.username_is_email:
        if not values.get("name"):
            raise Invalid(
                "displayName is required (this source's rule: userName must equal the work email)", field="displayName"
            )
        if not email:
            raise Invalid(
                'A work email is required (emails[type eq "work"].value): this source\'s rule is that '
                "userName must equal the work email",
                field="emails",
            )
        if norm(user_name) != norm(email):
            raise Invalid(
                f"userName {user_name!r} must equal the work email {email!r} (this source's rule)", field="userName"
            )
        return values
    if values.get("name"):
        return values
    given_family = " ".join(part for part in (values.get("first_name"), values.get("last_name")) if part)
    return {**values, "name": values.get("formatted_name") or given_family or user_name}


#: a member value's SCIM attribute (RFC 7643 §4.1, §4.3), as a refusal names it
_SCIM_NAMES = {
    "external_id": "userName",
    "email": 'emails[type eq "work"].value',
    "name": "displayName",
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "another_name": "nickName",
    "employee_id": "employeeNumber",
    "user_type": "userType",
    "work_country": 'addresses[type eq "work"].country',
    "mobile": 'phoneNumbers[type eq "work"].value',
    "scim_external_id": "externalId",
    "job_title": "title",
    "department": "department",
    "manager": "manager",
}


def _check_lengths(values: dict[str, Any]) -> None:
    """Refuse (400 invalidValue) a value longer than its column: the console's limit (``members.value_problems``).

    The schema bounds each attribute's length as sent; the stored comparison form may be longer still ("ß" is
    "ss"), and SQLite would keep what PostgreSQL refuses. Every attribute at fault is named.
    """
    problems = members.value_problems(values, _SCIM_NAMES, any_character=True)
    if problems:
        errors = {_SCIM_NAMES[key]: message for key, message in problems.items()}
        raise Invalid("; ".join(errors.values()), field=next(iter(errors)), errors=errors)


def _with_workforce_type(source: Source, values: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The values with the workforce type the source's rules map ``userType`` to."""
    found = sync_sources.workforce_type_for(source, values.get("user_type"))
    if values.get("user_type") and found is None:
        notes.append(f"No workforce type rule for userType {values['user_type']!r}: workforce type left empty")
    return {**values, "employee_type_id": found.id if found is not None else None}


def _probes(source: Source, values: dict[str, Any]) -> dict[str, Any]:
    """What a create looks for, in order: userName, then the source's match attributes, as stored."""
    probes = {"userName": norm(values["external_id"])}
    for attribute in source.match_attributes or []:
        value = values.get(attribute)
        if value and attribute in _MATCH_LABELS:
            probes[attribute] = norm(value) if attribute in members.NORMALIZED_MATCHES else value
    return probes


def _find_existing(source: Source, probes: dict[str, Any]) -> tuple[MemberRecord | None, str]:
    """The existing member of the organization a create is about, and the attribute that found it."""
    for attribute, value in probes.items():
        found = members.first_matching(source.org_id, attribute, value)
        if found is not None:
            return found, attribute
    return None, ""


def _check_linkable(source: Source, member: MemberRecord, how: str) -> None:
    """Refuse to link a member this source already manages, or one another sync source manages (409).

    Only an unmanaged member is linked: made in the console, unlinked by a Suspend deletion
    rule, or left by a deleted source. One managed by another source stays with it, active or
    not: JumpCloud's Test Connection creates a user with the administrator's test email and
    deletes it again, and taking over a deactivated source's member would then suspend it.
    """
    label = "userName" if how == "userName" else _MATCH_LABELS[how]
    field = _MATCH_FIELDS[how]
    if member.source_id == source.id:
        raise Conflict(f"A user with this {label} already exists", field=field)
    other = _managing_source(member.source_id)
    if other is not None:
        raise Conflict(
            f"The member with this {label} is managed by another {_state(other)} sync source ({other.name})",
            field=field,
        )


def _managing_source(source_id: int | None) -> SyncSource | None:
    """The existing (not deleted) sync source with this id, active or not: a record it manages is not linked."""
    if source_id is None:
        return None
    other = db.session.get(SyncSource, source_id)
    return other if other is not None and not other.is_deleted else None


def _state(source: SyncSource) -> str:
    return "active" if source.status == "active" else "inactive"


def _status_operation(before: str | None, after: str) -> str:
    if before == "active" and after == "inactive":
        return "deactivate"
    if before == "inactive" and after == "active":
        return "reactivate"
    return "update"


def _member_log_row(
    source: Source,
    info: RequestInfo | None,
    operation: str,
    status_code: int,
    after: MemberRecord,
    changes: dict[str, Any],
    refs: members.Refs,
    notes: list[str],
) -> dict[str, Any]:
    """The Sync log row of a member write that is about to succeed, built before the write takes the lock."""
    return sync_log.entry(
        source.id,
        source.org_id,
        info,
        operation=operation,
        result="success",
        status_code=status_code,
        object_type="member",
        object_id=after.public_id,
        object_name=after.external_id,
        changes=changes,
        associated=members.newly_given(refs.associated, changes),
        notes=notes + refs.notes,
    )


def provision_member(source: Source, values: dict[str, Any], info: RequestInfo | None) -> tuple[MemberRecord, str]:
    """Create a member from a SCIM POST, or link the existing one it identifies; returns it and the operation."""
    values = _require(source, values)
    notes: list[str] = []
    values = _with_workforce_type(source, values, notes)
    probes = _probes(source, values)
    matched, title, department = members.create_lookups(
        source.org_id, probes, values.get("job_title"), values.get("department")
    )
    existing, how = _find_existing(source, probes) if matched else (None, "")
    if existing is not None:
        _check_linkable(source, existing, how)
        notes.append(f"Linked to the existing member {existing.external_id} found by {how}")
        before: MemberRecord | None = existing
        base, operation = members.copy(existing, source_id=source.id), "link"
    else:
        before, base, operation = None, members.new_record(source.org_id, source.id), "create"
    refs = members.resolve_refs(
        source.org_id, source.id, values, member=before, title=title, department=department, defer_new_title=True
    )
    after = members.assign(base, values, refs, replace_all=True)
    changes = admin_log.diff(before.state() if before is not None else {}, after.state())
    # The log row is built first: between the first write and COMMIT, other writers wait.
    log_row = _member_log_row(source, info, operation, 201, after, changes, refs, notes)
    if before is None:
        after.id = members.unique(lambda: members.insert_record(after, Actor.for_source(source), refs))
    else:
        after = members.unique(lambda: members.update_record(before, after, utcnow(), Actor.for_source(source), refs))
    sync_log.write(log_row)
    return after, operation


def replace_member(
    source: Source,
    member: MemberRecord,
    values: dict[str, Any],
    info: RequestInfo | None,
    *,
    if_match: str | None = None,
    notes: list[str] | None = None,
) -> MemberRecord:
    """Replace a member's values (PUT, and PATCH on its final state); left-out values are cleared.

    The UPDATE names the version read: a write that lost a race raises StaleDataError,
    and the door runs it again or answers 412. ``notes`` go first to the Sync log row's notes
    (what the request asked that was ignored, for example).
    """
    check_version(member, if_match)
    values = _require(source, values)
    notes = list(notes or [])
    values = _with_workforce_type(source, values, notes)
    refs = members.resolve_refs(source.org_id, source.id, values, member=member, defer_new_title=True)
    after = members.assign(member, values, refs, replace_all=True)
    changes = admin_log.diff(member.state(), after.state())
    # The log row is built first: between the first write and COMMIT, other writers wait.
    log_row = _member_log_row(
        source, info, _status_operation(member.status, after.status), 200, after, changes, refs, notes
    )
    after = members.unique(lambda: members.update_record(member, after, utcnow(), Actor.for_source(source), refs))
    sync_log.write(log_row)
    return after


def deprovision_member(
    source: Source, member: MemberRecord, info: RequestInfo | None, *, if_match: str | None = None
) -> None:
    """Apply the source's member deletion rule: suspend and unlink, or remove from the organization."""
    check_version(member, if_match)
    actor = Actor.for_source(source)
    write: Callable[[], object]
    if source.deletion_rule == "delete":
        changes = admin_log.diff(member.snapshot(), {})
        notes = ["Member deletion rule: Delete member (removed from the organization)"]
        write = partial(members.delete_record, member, actor)
    else:
        changes = admin_log.diff(
            {"status": member.status, "data_source": source.name},
            {"status": "inactive", "data_source": "Admin Console"},
        )
        notes = ["Member deletion rule: Suspend member (kept as Inactive, unlinked from the source)"]
        suspended = members.copy(member, status="inactive", source_id=None)
        write = partial(members.update_record, member, suspended, utcnow(), actor)
    # The log row is built first: between the first write and COMMIT, other writers wait.
    log_row = sync_log.entry(
        source.id,
        source.org_id,
        info,
        operation="delete",
        result="success",
        status_code=204,
        object_type="member",
        object_id=member.public_id,
        object_name=member.external_id,
        changes=changes,
        notes=notes,
    )
    write()
    sync_log.write(log_row)


# ---------------------------------------------------------------- groups


#: how many members added or removed a group's Sync log row names; the rest are counted
LOGGED_MEMBER_NAMES = 100


def _few(names: Any) -> Any:
    if not isinstance(names, list) or len(names) <= LOGGED_MEMBER_NAMES:
        return names
    return names[:LOGGED_MEMBER_NAMES] + [f"... and {len(names) - LOGGED_MEMBER_NAMES:,} more"]


def _scim_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A group's changes as the Sync log names them (SCIM attributes; a group from a source has no description).

    One request may add or remove 10,000 members: the row names the first ``LOGGED_MEMBER_NAMES``
    of each list and counts the others, so it stays small.
    """
    return {key: [_few(side) for side in value] for key, value in changes.items() if key != "description"}


def _linkable_group(source: Source, display_name: str | None) -> UserGroup | None:
    """The unmanaged group a POST /Groups names, to be linked; None when no group has the name; or Conflict (409).

    Names compare as ``models.norm`` (any case or Unicode form), as displayName's uniqueness does.
    The rule is the members' (``_check_linkable``): only an unmanaged group is linked, one made in
    the console or left by a deleted source. One this source manages, or another existing sync
    source, active or not, is refused as a taken name: JumpCloud's Test Connection creates and
    deletes a test group, and must not take over nor delete another source's group.
    """
    name = (display_name or "").strip()
    if not name:
        return None
    group = db.session.scalar(
        select(UserGroup).where(UserGroup.org_id == source.org_id, UserGroup.display_name_norm == norm(name))
    )
    if group is None:
        return None
    if group.source_id == source.id:
        raise Conflict(f"A user group named {name!r} already exists", field="displayName")
    other = _managing_source(group.source_id)
    if other is not None:
        raise Conflict(
            f"The user group named {group.display_name!r} is managed by another {_state(other)} sync source "
            f"({other.name})",
            field="displayName",
        )
    return group


def _log_group(
    source: Source,
    info: RequestInfo | None,
    operation: str,
    status_code: int,
    public_id: str,
    name: str,
    changes: dict[str, Any],
    notes: list[str] | None = None,
) -> None:
    """The one Sync log row of a group operation that succeeded."""
    sync_log.record(
        source.id,
        source.org_id,
        info,
        operation=operation,
        result="success",
        status_code=status_code,
        object_type="group",
        object_id=public_id,
        object_name=name,
        changes=changes,
        notes=notes,
    )


def provision_group(source: Source, change: GroupChange, info: RequestInfo | None) -> UserGroup:
    """Create a user group from a SCIM POST, or link the unmanaged group of that name; the source manages it.

    A POST states the whole resource (RFC 7644 §3.3), so a linked group takes the POST's
    displayName (as spelt), externalId and members, as a PUT would (§3.5.1): members the POST
    leaves out are removed, externalId left out is cleared. Its description (a console value,
    not a SCIM attribute) stays. The Sync log row's operation is then "link", as for a member.
    """
    existing = _linkable_group(source, change.display_name if change.set_display_name else None)
    notes: list[str] = []
    if existing is None:
        now = utcnow()
        group = UserGroup(org_id=source.org_id, source_id=source.id, created_at=now, updated_at=now)
        done = write_group(group, change, new=True, actor=Actor.for_source(source))
        operation = "create"
    else:
        group, operation = existing, "link"
        notes.append(f"Linked to the existing group {group.display_name}")
        group.source_id = source.id
        try:
            done = write_group(group, change, new=False, actor=Actor.for_source(source))
        except StaleDataError as exc:  # a parallel request linked or changed it first: now a taken name
            raise Conflict(f"A user group named {change.display_name!r} already exists", field="displayName") from exc
    _log_group(source, info, operation, 201, group.public_id, group.display_name, _scim_changes(done.changes), notes)
    return group


def change_group(
    source: Source,
    group: UserGroup,
    change: GroupChange,
    info: RequestInfo | None,
    *,
    if_match: str | None = None,
    notes: list[str] | None = None,
) -> UserGroup:
    """Change a user group (PUT or PATCH): name, externalId and members, in SQL.

    ``notes`` go to the Sync log row as they are (what the request asked that was ignored, for example).
    """
    check_version(group, if_match)
    done = write_group(group, change, new=False, if_match=if_match, actor=Actor.for_source(source))
    _log_group(source, info, "update", 200, group.public_id, group.display_name, _scim_changes(done.changes), notes)
    return group


def deprovision_group(
    source: Source, group: UserGroup, info: RequestInfo | None, *, if_match: str | None = None
) -> None:
    """Delete a user group; its members stay untouched."""
    check_version(group, if_match)
    public_id, name = group.public_id, group.display_name
    delete_group_record(group, Actor.for_source(source))
    _log_group(source, info, "delete", 204, public_id, name, {"displayName": [name, None]})
