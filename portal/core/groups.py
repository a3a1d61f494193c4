"""User groups and their memberships, and their one writer: the console and a sync source both call it.

``write_group`` changes a group's name, description, externalId and members, in
SQL without loading the members; ``delete_group_record`` removes one. The console's
operations (a group made by hand) are below them; a sync source's are in
``portal.core.provisioning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from portal.core import admin_log
from portal.core.actors import Actor
from portal.core.errors import Conflict, Invalid, NotFound
from portal.core.fields import clean_text
from portal.core.member_list import prefix_condition
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


def _member_ids(org_id: int, public_ids: list[str]) -> dict[str, int]:
    """SCIM id -> internal id of members of the organization; an unknown id is invalid."""
    if not public_ids:
        return {}
    found: dict[str, int] = {}
    for chunk_start in range(0, len(public_ids), 500):
        chunk = public_ids[chunk_start : chunk_start + 500]
        found.update(
            db.session.execute(
                select(Member.public_id, Member.id).where(Member.org_id == org_id, Member.public_id.in_(chunk))
            ).all()
        )
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
    stmt = (
        postgresql.insert(group_members).on_conflict_do_nothing()
        if dialect == "postgresql"
        else sqlite.insert(group_members).on_conflict_do_nothing()
    )
    db.session.execute(stmt, rows)


def _apply_member_steps(group: UserGroup, steps: list[tuple[str, list[str]]]) -> _MemberDelta:
    """Run the member steps in SQL without loading the group's members."""
    delta = _MemberDelta()
    for kind, public_ids in steps:
        ids = set(_member_ids(group.org_id, list(dict.fromkeys(public_ids))).values())
        if kind == "replace":
            current = _current(group)
            gone, new = current - ids, ids - current
        elif kind == "add":
            gone, new = set(), (ids - _current(group, ids)) if ids else set()
        else:
            gone, new = (_current(group, ids) if ids else set()), set()
        if gone:
            db.session.execute(
                delete(group_members).where(group_members.c.group_id == group.id, group_members.c.member_id.in_(gone))
            )
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


def _snapshot(group: UserGroup) -> dict[str, Any]:
    return {"displayName": group.display_name, "description": group.description, "externalId": group.scim_external_id}


def write_group(group: UserGroup, change: GroupChange, *, new: bool, if_match: str | None = None) -> GroupWrite:
    """Apply a change to a group (a new one is added to the session); a name already taken is a Conflict.

    A members-only change still moves the version on. Without If-Match it moves in SQL:
    membership steps commute, so parallel adds (Okta, Entra ID) all apply instead of
    failing with 412 (RFC 7644 §3.14: 412 answers a failed If-Match only).
    """
    before = {} if new else _snapshot(group)
    version = group.version
    name = (change.display_name or "").strip() if change.set_display_name else group.display_name
    try:
        with unique_flush():
            if change.set_display_name:
                if not name:
                    raise Invalid("displayName is required", field="displayName")
                group.display_name = name
            if change.set_description:
                group.description = clean_text(change.description)
            if change.set_external_id:
                group.scim_external_id = change.scim_external_id
            if new:
                db.session.add(group)
    except Conflict as exc:
        raise Conflict(f"A user group named {name!r} already exists", field="displayName") from exc
    delta = _apply_member_steps(group, change.member_steps)
    changes = admin_log.diff(before, _snapshot(group))
    added, removed = _names(delta.added), _names(delta.removed)
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


def delete_group_record(group: UserGroup) -> None:
    """Delete a group; its members stay untouched."""
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


def create_group(org_id: int, display_name: str, actor: Actor, description: str | None = None) -> UserGroup:
    """Create a user group by hand (data source Admin Console)."""
    group = UserGroup(org_id=org_id, source_id=actor.source_id)
    try:
        write_group(
            group,
            GroupChange(
                display_name=display_name, set_display_name=True, description=description, set_description=True
            ),
            new=True,
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
    done = write_group(group, GroupChange(member_steps=[(step, [member.public_id])]), new=False)
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
    member = db.session.scalar(
        select(Member).where(Member.org_id == org_id, or_(Member.email_norm == key, Member.external_id_norm == key))
    )
    if member is None:
        raise Invalid("No member has this email or user ID", field="member")
    _change_members(group, "add", member, actor)
    return member


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
    delete_group_record(group)
    admin_log.record(
        actor,
        org_id,
        "Delete user group",
        target_type="group",
        target_id=public_id,
        target_name=name,
        changes={"display_name": [name, None]},
    )
