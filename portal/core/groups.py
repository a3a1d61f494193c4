"""User groups and their memberships, and their one writer: the console and a sync source both call it.

``write_group`` changes a group's name, description, externalId and members, in
SQL without loading the members; ``delete_group_record`` removes one. The console's
operations (a group made by hand) are below them; a sync source's are in
``portal.core.provisioning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from portal.core import admin_log, events
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.member_list import prefix_condition
from portal.core.text import clean_text, text_problem
from portal.core.unique import unique_flush
from portal.extensions import db
from portal.models import Member, UserGroup, group_members, norm, utcnow


@dataclass
class GroupChange:
    """What a request changes in a group; member steps run in order, by member SCIM id.

    ``member_steps`` holds ("add" | "remove" | "replace", [ids]); ("replace", []) removes every member.
    """

    display_name: str | None = None
    set_display_name: bool = False
    description: str | None = None
    set_description: bool = False
    scim_external_id: str | None = None
    set_external_id: bool = False
    member_steps: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class GroupWrite:
    """What a write did: the field-by-field changes, and the members added and removed (by userName)."""

    changes: dict[str, list[Any]]
    added: list[str]
    removed: list[str]


#: ids per IN (...) list: under SQLite's oldest limit of 999 bound parameters per statement
IN_CHUNK = 900


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[start : start + IN_CHUNK] for start in range(0, len(values), IN_CHUNK)]


def _resolve(org_id: int, public_ids: list[str]) -> dict[str, tuple[int, str]]:
    """SCIM id -> (internal id, userName) of members of the organization, every id of a request at once;
    an unknown id is invalid."""
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(public_ids):
        rows = db.session.execute(
            select(Member.public_id, Member.id, Member.external_id).where(
                Member.org_id == org_id, Member.public_id.in_(chunk)
            )
        )
        found.update((public_id, (member_id, name)) for public_id, member_id, name in rows)
    unknown = [p for p in public_ids if p not in found]
    if unknown:
        raise Invalid(f"No member of this organization has the id(s): {', '.join(unknown[:10])}", field="members")
    return found


@dataclass
class _Target:
    """What member steps want in the end: after a replace the whole membership (``members``),
    else only the members they name (``present`` and ``absent``, the last step naming one wins)."""

    members: set[int] | None = None
    present: set[int] = field(default_factory=set)
    absent: set[int] = field(default_factory=set)


def _target(steps: list[tuple[str, list[str]]], ids: dict[str, tuple[int, str]]) -> _Target:
    """The net effect of the steps in order, computed in memory (RFC 7644 §3.5.2: operations apply in sequence)."""
    target = _Target()
    for kind, public_ids in steps:
        named = {ids[p][0] for p in public_ids}
        if kind == "replace":
            target = _Target(members=set(named))
        elif target.members is not None:
            target.members = target.members | named if kind == "add" else target.members - named
        elif kind == "add":
            target.present |= named
            target.absent -= named
        else:
            target.absent |= named
            target.present -= named
    return target


def _current(group: UserGroup, among: set[int] | None = None) -> set[int]:
    """The group's member ids (only those ``among``, when given)."""
    stmt = select(group_members.c.member_id).where(group_members.c.group_id == group.id)
    if among is None:
        return set(db.session.scalars(stmt))
    found: set[int] = set()
    for chunk in _chunks(sorted(among)):
        found.update(db.session.scalars(stmt.where(group_members.c.member_id.in_(chunk))))
    return found


def _insert_memberships(group_id: int, member_ids: set[int]) -> None:
    """Insert group memberships; one added by a parallel request meanwhile is no error (adds commute)."""
    rows = [{"group_id": group_id, "member_id": i} for i in sorted(member_ids)]
    dialect = db.session.get_bind().dialect.name
    stmt = (
        postgresql.insert(group_members).on_conflict_do_nothing()
        if dialect == "postgresql"
        else sqlite.insert(group_members).on_conflict_do_nothing()
    )
    db.session.execute(stmt, rows)


def _delete_memberships(group_id: int, member_ids: set[int]) -> None:
    """Delete group memberships, one DELETE ... IN (...) per ``IN_CHUNK`` ids."""
    for chunk in _chunks(sorted(member_ids)):
        db.session.execute(
            delete(group_members).where(group_members.c.group_id == group_id, group_members.c.member_id.in_(chunk))
        )


@dataclass
class _MemberDelta:
    """The net effect of member steps: who was added and who was removed (internal id -> userName)."""

    added: dict[int, str] = field(default_factory=dict)
    removed: dict[int, str] = field(default_factory=dict)


def _apply_member_steps(group: UserGroup, steps: list[tuple[str, list[str]]]) -> _MemberDelta:
    """Run the member steps as set operations, without loading the group's members unless one replaces them.

    However many steps (a PATCH may hold 10,000 operations), the cost is a fixed number of
    statements per ``IN_CHUNK`` ids: one SELECT resolving every member named, one reading
    the current memberships among them, one DELETE and one INSERT (issue 12 item 2).
    """
    delta = _MemberDelta()
    if not steps:
        return delta
    ids = _resolve(group.org_id, list(dict.fromkeys(p for _kind, public_ids in steps for p in public_ids)))
    target = _target(steps, ids)
    if target.members is not None:
        current = _current(group)
        gone, new = current - target.members, target.members - current
    else:
        current = _current(group, target.present | target.absent)
        gone, new = target.absent & current, target.present - current
    if gone:
        _delete_memberships(group.id, gone)
    if new:
        _insert_memberships(group.id, new)
    names = {member_id: name for member_id, name in ids.values()}
    delta.added = {i: names[i] for i in new}
    delta.removed = {i: names[i] for i in gone if i in names}
    delta.removed.update(_names(gone - delta.removed.keys()))
    db.session.expire(group, ["members"])
    return delta


def _member_column(member_ids: set[int], column: Any) -> dict[int, str]:
    """Internal id -> ``column`` of these members, a chunk of ids per query."""
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(member_ids)):
        rows = db.session.execute(select(Member.id, column).where(Member.id.in_(chunk)))
        found.update((member_id, value) for member_id, value in rows)
    return found


def _names(member_ids: set[int]) -> dict[int, str]:
    """Internal id -> userName of these members."""
    return _member_column(member_ids, Member.external_id)


def _snapshot(group: UserGroup) -> dict[str, Any]:
    return {"displayName": group.display_name, "description": group.description, "externalId": group.scim_external_id}


def write_group(
    group: UserGroup, change: GroupChange, *, new: bool, actor: Actor, if_match: str | None = None
) -> GroupWrite:
    """Apply a change to a group (a new one is added to the session); a name already taken is a Conflict.

    A members-only change still moves the version on. Without If-Match it moves in SQL:
    membership steps commute, so parallel adds (Okta, Entra ID) all apply instead of
    failing with 412 (RFC 7644 §3.14: 412 answers a failed If-Match only). Its events:
    group.created or group.updated, then one group.member_added / member_removed per member.
    """
    before = {} if new else _snapshot(group)
    attributes_before = {} if new else _attributes_before(group, actor)
    version = group.version
    name = (change.display_name or "").strip() if change.set_display_name else group.display_name
    try:
        with unique_flush():
            if change.set_display_name:
                if not name:
                    raise Invalid("displayName is required", field="displayName")
                group.display_name = name
            if change.set_description:
                group.description = clean_text(change.description, label="description", multiline=True)
            if change.set_external_id:
                group.scim_external_id = change.scim_external_id
            if new:
                db.session.add(group)
    except Conflict as exc:
        raise Conflict(f"A user group named {name!r} already exists", field="displayName") from exc
    delta = _apply_member_steps(group, change.member_steps)
    _record_events(group, new, attributes_before, delta, actor)
    changes = admin_log.diff(before, _snapshot(group))
    added, removed = sorted(delta.added.values()), sorted(delta.removed.values())
    if added:
        changes["members added"] = [None, added]
    if removed:
        changes["members removed"] = [removed, None]
    if (added or removed) and not new and group.version == version:
        if if_match and if_match.strip() != "*":
            group.updated_at = utcnow()
            db.session.flush()
        else:
            db.session.execute(
                update(UserGroup)
                .where(UserGroup.id == group.id)
                .values(version=UserGroup.version + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            db.session.expire(group, ["version", "updated_at"])
    return GroupWrite(changes, added, removed)


def _attributes_before(group: UserGroup, actor: Actor) -> dict[str, Any]:
    """The group as its events showed it before this write; a data source set by the caller (a link) counts."""
    attributes = events.group_attributes(group, actor)
    changed_source = inspect(group).attrs.source_id.history
    if changed_source.deleted:
        attributes["source"] = events.source_ref(changed_source.deleted[0])
    return attributes


def _record_events(
    group: UserGroup, new: bool, attributes_before: dict[str, Any], delta: _MemberDelta, actor: Actor
) -> None:
    """The write's events: the group's own, then a member_added or member_removed per member (one INSERT)."""
    attributes = events.group_attributes(group, actor)
    changes: list[events.Change] = []
    if new:
        changes.append(events.Change("group.created", "group", group.public_id, attributes))
    else:
        fields = events.updated_fields(attributes_before, attributes)
        if fields:
            changes.append(
                events.Change("group.updated", "group", group.public_id, {k: attributes[k] for k in fields}, fields)
            )
    public_ids = _public_ids(set(delta.added) | set(delta.removed))
    for kind, members in (("group.member_added", delta.added), ("group.member_removed", delta.removed)):
        for member_id, user_name in sorted(members.items(), key=lambda item: (item[1], item[0])):
            member = {"id": public_ids.get(member_id), "user_name": user_name}
            changes.append(events.Change(kind, "group", group.public_id, {"member": member}, ["members"]))
    if changes:
        events.record_many(group.org_id, actor, changes)


def _public_ids(member_ids: set[int]) -> dict[int, str]:
    """Internal id -> SCIM id of these members."""
    return _member_column(member_ids, Member.public_id)


def delete_group_record(group: UserGroup, actor: Actor) -> None:
    """Delete a group and record its group.deleted event; its members stay untouched."""
    events.record(
        group.org_id,
        actor,
        events.Change("group.deleted", "group", group.public_id, events.group_attributes(group, actor)),
    )
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id))
    db.session.delete(group)
    db.session.flush()


# ---------------------------------------------------------------- the console's groups (made by hand)


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
        conditions.append(prefix_condition(UserGroup.display_name_norm, search.strip().lower()))
    total = db.session.scalar(select(func.count(UserGroup.id)).where(*conditions)) or 0
    counts = select(group_members.c.group_id, func.count().label("n")).group_by(group_members.c.group_id).subquery()
    rows = db.session.execute(
        select(UserGroup, func.coalesce(counts.c.n, 0))
        .options(joinedload(UserGroup.source))
        .outerjoin(counts, counts.c.group_id == UserGroup.id)
        .where(*conditions)
        .order_by(UserGroup.display_name_norm, UserGroup.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [(g, n) for g, n in rows], total


def group_members_page(group: UserGroup, *, limit: int, offset: int) -> tuple[list[Member], int]:
    """A page of the group's members by name, and how many it has."""
    where = Member.id.in_(select(group_members.c.member_id).where(group_members.c.group_id == group.id))
    total = db.session.scalar(select(func.count(Member.id)).where(where)) or 0
    rows = db.session.scalars(
        select(Member)
        .options(joinedload(Member.source))
        .where(where)
        .order_by(Member.name_norm, Member.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def _hand_made_group(group: UserGroup) -> None:
    if group.source_id is not None:
        source_name = group.source.name if group.source is not None else ""
        raise Invalid(
            f"{group.display_name} is managed by the sync source {source_name}; change it in the identity provider",
            field="display_name",
        )


def _console_conflict(exc: Conflict | Invalid) -> Conflict | Invalid:
    if isinstance(exc, Conflict):
        return Conflict(exc.message, field="display_name")
    return Invalid("Enter the user group's name", field="display_name")


def _console_text(value: str | None, column: Any, label: str, field: str, *, multiline: bool = False) -> str | None:
    """A value typed in the console (None: left unchanged), checked here: the write's refusals use SCIM's words."""
    if value is None:
        return None
    return clean_text(value, column, label=label, field=field, multiline=multiline) or ""


def create_group(org_id: int, display_name: str, actor: Actor, description: str | None = None) -> UserGroup:
    """Create a user group by hand (data source Admin Console)."""
    name = _console_text(display_name, UserGroup.display_name, "User group name", "display_name")
    text = _console_text(description, UserGroup.description, "Description", "description", multiline=True)
    group = UserGroup(org_id=org_id, source_id=actor.source_id)
    try:
        write_group(
            group,
            GroupChange(display_name=name, set_display_name=True, description=text, set_description=True),
            new=True,
            actor=actor,
        )
    except (Conflict, Invalid) as exc:
        raise _console_conflict(exc) from exc
    admin_log.record(
        actor,
        org_id,
        "Add user group",
        target_type="group",
        target_id=group.public_id,
        target_name=group.display_name,
        changes={"display_name": [None, group.display_name]},
    )
    return group


def update_group(
    org_id: int, group_id: int, actor: Actor, *, display_name: str | None = None, description: str | None = None
) -> UserGroup:
    """Rename or describe a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    display_name = _console_text(display_name, UserGroup.display_name, "User group name", "display_name")
    description = _console_text(description, UserGroup.description, "Description", "description", multiline=True)
    before = {"display_name": group.display_name, "description": group.description}
    try:
        write_group(
            group,
            GroupChange(
                display_name=display_name,
                set_display_name=display_name is not None,
                description=description,
                set_description=description is not None,
            ),
            new=False,
            actor=actor,
        )
    except (Conflict, Invalid) as exc:
        raise _console_conflict(exc) from exc
    changes = admin_log.diff(before, {"display_name": group.display_name, "description": group.description})
    if changes:
        admin_log.record(
            actor,
            org_id,
            "Edit user group",
            target_type="group",
            target_id=group.public_id,
            target_name=group.display_name,
            changes=changes,
        )
    return group


def _change_members(group: UserGroup, step: str, member: Member, actor: Actor) -> None:
    """Add a member to or remove one from a group made by hand; an Admin log entry when it changed anything."""
    done = write_group(group, GroupChange(member_steps=[(step, [member.public_id])]), new=False, actor=actor)
    if done.added or done.removed:
        shown = member.email or member.external_id
        admin_log.record(
            actor,
            group.org_id,
            "Edit user group",
            target_type="group",
            target_id=group.public_id,
            target_name=group.display_name,
            changes={"members": [None, f"+ {shown}"] if done.added else [f"- {shown}", None]},
        )


def add_group_member(org_id: int, group_id: int, who: str, actor: Actor) -> Member:
    """Add a member, named by email or userName, to a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    key = norm(who) or ""
    if text_problem(key) is not None:  # no member's email or user ID holds one (PostgreSQL refuses a NUL)
        raise Invalid("No member has this email or user ID", field="member")
    member = db.session.scalar(
        select(Member).where(Member.org_id == org_id, or_(Member.email_norm == key, Member.external_id_norm == key))
    )
    if member is None:
        raise Invalid("No member has this email or user ID", field="member")
    _change_members(group, "add", member, actor)
    return member


def add_group_members(org_id: int, group_id: int, public_ids: list[str], actor: Actor) -> GroupWrite:
    """Add several members (SCIM ids) to a user group made by hand in one write.

    One Admin log entry names every member added (by userName, as a sync source's writes do);
    members already in the group are no change, and none added writes no entry.
    """
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    done = write_group(group, GroupChange(member_steps=[("add", public_ids)]), new=False, actor=actor)
    if done.added:
        admin_log.record(
            actor,
            org_id,
            "Edit user group",
            target_type="group",
            target_id=group.public_id,
            target_name=group.display_name,
            changes=done.changes,
            summary=f"Added {len(done.added)} member{'s' if len(done.added) != 1 else ''}: {', '.join(done.added)}",
        )
    return done


def remove_group_member(org_id: int, group_id: int, member_id: int, actor: Actor) -> None:
    """Take a member out of a user group made by hand."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    member = db.session.get(Member, member_id)
    if member is None or member.org_id != org_id:
        raise NotFound("No such member")
    _change_members(group, "remove", member, actor)


def delete_group(org_id: int, group_id: int, actor: Actor) -> None:
    """Delete a user group made by hand; its members stay."""
    group = get_group(org_id, group_id)
    _hand_made_group(group)
    public_id, name = group.public_id, group.display_name
    delete_group_record(group, actor)
    admin_log.record(
        actor,
        org_id,
        "Delete user group",
        target_type="group",
        target_id=public_id,
        target_name=name,
        changes={"display_name": [name, None]},
    )
