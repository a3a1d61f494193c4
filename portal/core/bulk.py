"""Bulk work on members from the console: one change to several members, one Admin log entry naming them.

Each member goes through the one writer, as a single change does (``members.set_member_active``,
``members.update_member``, ``groups.add_group_members``), inside the request's one transaction. So
the same rules hold: a member a sync source manages keeps what the source writes (its status, its
department) and is skipped with the writer's reason while the others change. Each member's write
runs in a savepoint, so a refused member leaves nothing behind. The writers are asked not to log
(``log=False``): a bulk change leaves one Admin log entry of its own naming every member it changed,
under the single change's event type ("Suspend member", "Edit member" ...), so the Admin log's
filters find both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import select

from portal.core import admin_log, groups, member_list, members
from portal.core.actors import Actor
from portal.core.departments import get_department
from portal.core.errors import DomainError, Invalid, NotFound
from portal.extensions import db
from portal.models import Member, SyncSource, UserGroup, group_members

#: members one bulk change may name: ten pages of the Members tab, under SQLite's oldest
#: limit of 999 bound parameters in the statement that reads them
MAX_MEMBERS = 500
#: members the group picker lists for one search
PICKER_LIMIT = 20
#: hand-made user groups the Members tab's "Add to group" offers
GROUP_CHOICES_LIMIT = 500


@dataclass(frozen=True)
class Selected:
    """A member named by a bulk change, as read before it."""

    id: int
    public_id: str
    user_name: str
    name: str
    label: str
    status: str
    #: the sync source that manages the member; None: the Admin Console
    source_name: str | None


@dataclass
class BulkResult:
    """What a bulk change did: members changed, already as asked, skipped (with the reason), and gone."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: ids named that no member of the organization has (deleted meanwhile)
    missing: int = 0


def count_text(count: int, noun: str = "member") -> str:
    """ "1 member", "3 members"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _label(name: str, email: str | None, user_name: str) -> str:
    return f"{name} ({email or user_name})"


def _selected(org_id: int, member_ids: list[int]) -> tuple[list[Selected], BulkResult]:
    """The organization's members among ``member_ids``, by name; the ids no member has are counted as missing."""
    wanted = list(dict.fromkeys(member_ids))
    if not wanted:
        raise Invalid("Select at least one member", field="members")
    if len(wanted) > MAX_MEMBERS:
        raise Invalid(f"Select at most {MAX_MEMBERS:,} members at a time", field="members")
    rows = db.session.execute(
        select(
            Member.id,
            Member.public_id,
            Member.external_id,
            Member.name,
            Member.email,
            Member.status,
            SyncSource.name,
        )
        .outerjoin(SyncSource, SyncSource.id == Member.source_id)
        .where(Member.org_id == org_id, Member.id.in_(wanted))
        .order_by(Member.name_norm, Member.id)
    ).all()
    chosen = [Selected(row[0], row[1], row[2], row[3], _label(row[3], row[4], row[2]), row[5], row[6]) for row in rows]
    return chosen, BulkResult(missing=len(wanted) - len(chosen))


def _write(result: BulkResult, member: Selected, write: Callable[[], object], synced_reason: str = "") -> bool:
    """Run one member's write in a savepoint; a refusal skips the member with the reason and keeps nothing."""
    try:
        with db.session.begin_nested():
            write()
    except DomainError as exc:
        reason = synced_reason if synced_reason and member.source_name is not None else exc.message
        result.skipped.append((member.label, reason))
        return False
    return True


def _log(actor: Actor, org_id: int, event_type: str, changed: list[str], summary: str, **changes: list[object]) -> None:
    """The bulk change's one Admin log entry: every member it changed, in its changes and its summary."""
    admin_log.record(
        actor,
        org_id,
        event_type,
        target_type="members",
        target_name=count_text(len(changed)),
        changes={"members": [None, changed], **changes},
        summary=f"{summary}: {', '.join(changed)}",
    )


def set_active(org_id: int, member_ids: list[int], active: bool, actor: Actor) -> BulkResult:
    """Suspend or reactivate several members; those a sync source manages are skipped, as one by one."""
    chosen, result = _selected(org_id, member_ids)
    wanted = "active" if active else "inactive"
    for member in chosen:
        write = partial(members.set_member_active, org_id, member.id, active, actor, log=False)
        if not _write(result, member, write):
            continue
        (result.unchanged if member.status == wanted else result.changed).append(member.label)
    if result.changed:
        verb = "Reactivated" if active else "Suspended"
        _log(
            actor,
            org_id,
            "Reactivate member" if active else "Suspend member",
            result.changed,
            f"{verb} {count_text(len(result.changed))}",
            status=["inactive" if active else "active", wanted],
        )
    return result


def move_to_department(org_id: int, member_ids: list[int], department_id: int, actor: Actor) -> BulkResult:
    """Move several members into one department; those a sync source manages keep the source's department."""
    try:
        department = get_department(org_id, department_id)
    except NotFound:
        raise Invalid("Choose a department of this organization", field="department") from None
    chosen, result = _selected(org_id, member_ids)
    for member in chosen:
        before = members.get_by_id(member.id)
        if before is None:  # deleted since it was read
            result.missing += 1
            continue
        moved = _write(
            result,
            member,
            partial(members.update_member, org_id, member.id, {"department_ids": [department.id]}, actor, log=False),
            synced_reason=f"{member.name} is managed by the sync source {member.source_name}; "
            "change the department in the identity provider",
        )
        if moved:
            unchanged = [d for d, _ in before.departments] == [department.id]
            (result.unchanged if unchanged else result.changed).append(member.label)
    if result.changed:
        _log(
            actor,
            org_id,
            "Edit member",
            result.changed,
            f"Moved {count_text(len(result.changed))} to {department.name}",
            departments=[None, [department.name]],
        )
    return result


def add_to_group(org_id: int, group_id: int, member_ids: list[int], actor: Actor) -> BulkResult:
    """Add several members to a user group made by hand, in one write of the group writer (one Admin log entry).

    Synced members may join a hand-made group (the group is the console's); a synced group is refused whole.
    """
    chosen, result = _selected(org_id, member_ids)
    done = groups.add_group_members(org_id, group_id, [m.public_id for m in chosen], actor)
    added = set(done.added)
    for member in chosen:
        (result.changed if member.user_name in added else result.unchanged).append(member.label)
    return result


@dataclass
class Candidates:
    """The group picker's answer to one search."""

    #: members ticked before this search, kept ticked (by name)
    chosen: list[Member]
    #: members the search finds (its first ``PICKER_LIMIT``, the chosen left out), each with whether it is
    #: in the group already
    found: list[tuple[Member, bool]]
    #: how many members the search finds
    total: int


def group_candidates(org_id: int, group_id: int, search: str, chosen_ids: list[int]) -> Candidates:
    """The group picker: what the Members tab's search finds, beside the members ticked so far.

    An empty search finds none. Ticked members stay, so an administrator can pick from several searches.
    """
    group = groups.get_group(org_id, group_id)
    wanted = list(dict.fromkeys(chosen_ids))[:MAX_MEMBERS]
    chosen: list[Member] = []
    if wanted:
        chosen = list(
            db.session.scalars(
                select(Member)
                .where(Member.org_id == org_id, Member.id.in_(wanted))
                .order_by(Member.name_norm, Member.id)
            )
        )
    rows: list[Member] = []
    total = 0
    if search.strip():
        rows, total = member_list.list_members(
            org_id, member_list.MemberFilter(search=search), limit=PICKER_LIMIT + len(chosen), offset=0
        )
    taken = {m.id for m in chosen}
    rows = [m for m in rows if m.id not in taken][:PICKER_LIMIT]
    inside: set[int] = set()
    if rows:
        inside = set(
            db.session.scalars(
                select(group_members.c.member_id).where(
                    group_members.c.group_id == group.id, group_members.c.member_id.in_([m.id for m in rows])
                )
            )
        )
    return Candidates(chosen, [(m, m.id in inside) for m in rows], total)


def hand_made_groups(org_id: int) -> list[tuple[int, str]]:
    """(id, name) of the user groups made by hand, by name: the ones members can be added to here."""
    return [
        (row[0], row[1])
        for row in db.session.execute(
            select(UserGroup.id, UserGroup.display_name)
            .where(UserGroup.org_id == org_id, UserGroup.source_id.is_(None))
            .order_by(UserGroup.display_name_norm, UserGroup.id)
            .limit(GROUP_CHOICES_LIMIT)
        )
    ]
