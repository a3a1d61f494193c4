"""Change events: every change to a member, department or group, numbered without gaps per organization.

The one writer of each record (``members``, ``groups``, ``departments``, and ``sync_sources`` when a
deleted source hands its objects to the Admin Console) calls ``record`` or ``record_many`` beside its
write. The events wait in the session and are written by the session's ``before_commit`` hook, in the
same transaction as the change, with one statement for the numbers and one INSERT for the rows:

- **Numbers.** ``UPDATE organizations SET event_seq = event_seq + :n WHERE id = :org RETURNING
  event_seq`` reserves n numbers. The UPDATE is part of the transaction: rolled back with the change,
  so no number is lost (no gaps), and committed with it. A second writer of the same organization
  waits on that row until the first commits, so numbers are also in commit order: a reader that has
  seen seq N never sees an N-1 appear later. That wait is the price: writers of one organization
  serialize from their UPDATE to their COMMIT. Taking the row in ``before_commit``, the last thing
  before COMMIT, keeps that window to the INSERT and the COMMIT itself; and as the last lock a
  transaction takes, it can never be part of a deadlock with the row locks taken before it.
  (bench/webhooks_sync.py measures the cost.) Organizations are taken in id order.
- **Savepoints.** An event recorded inside a savepoint that rolls back goes with it; a whole
  rollback drops every event waiting.

Events carry the actor: a sync source (its public id and name), an administrator (id and email),
or the system (the CLI, a job). ``attributes`` holds the object as created or as it was when
deleted, and for an update the new values of the changed fields named in ``changed_fields``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import CursorResult, bindparam, delete, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from portal.core.actors import Actor
from portal.extensions import db
from portal.infra.prepared import Prepared
from portal.models import ChangeEvent, Department, Organization, SyncSource, UserGroup, WebhookEndpoint, utcnow

if TYPE_CHECKING:
    from portal.core.members import MemberRecord

#: session.info keys: the events waiting for the commit, and "an enabled webhook endpoint has new events"
PENDING_KEY = "change_events_pending"
WEBHOOKS_DUE_KEY = "change_events_webhooks_due"

#: rows deleted per statement (and transaction) by ``prune``
PRUNE_BATCH = 5000

_events = ChangeEvent.__table__
_orgs = Organization.__table__


@dataclass(frozen=True, slots=True)
class EventActor:
    """Who made a change, as an event names it."""

    type: str  # source, admin or system
    id: str | None
    name: str | None


class _NamedSource(Protocol):
    @property
    def public_id(self) -> str: ...
    @property
    def name(self) -> str: ...


SYSTEM = EventActor("system", None, "CLI")


def actor_of(actor: Actor | EventActor) -> EventActor:
    """The event actor of a domain actor: a source, an administrator, or the system (the CLI)."""
    if isinstance(actor, EventActor):
        return actor
    if actor.admin is not None:
        return EventActor("admin", str(actor.admin.id), actor.admin.email)
    if actor.source is not None:
        return source_actor(actor.source)
    return SYSTEM


def source_actor(source: _NamedSource) -> EventActor:
    """A sync source as an event's actor."""
    return EventActor("source", source.public_id, source.name)


def source_actor_by_id(source_id: int | None) -> EventActor:
    """The actor of a write that knows only its data source's id (None: the system)."""
    if source_id is None:
        return SYSTEM
    row = db.session.execute(select(SyncSource.public_id, SyncSource.name).where(SyncSource.id == source_id)).first()
    return EventActor("source", row[0], row[1]) if row is not None else SYSTEM


@dataclass(frozen=True, slots=True)
class Change:
    """One event to record: what happened to which object."""

    type: str
    object_type: str
    object_id: str
    attributes: dict[str, Any]
    changed_fields: Sequence[str] = ()


@dataclass
class _Pending:
    """The events of one transaction, each with the innermost savepoint it was recorded in."""

    root: SessionTransaction
    rows: list[tuple[SessionTransaction | None, dict[str, Any]]]


def _pending(session: Session) -> _Pending:
    root = session.get_transaction()
    if root is None:
        session.connection()  # begin: an event always belongs to a transaction
        root = session.get_transaction()
    assert root is not None
    pending: _Pending | None = session.info.get(PENDING_KEY)
    if pending is None or pending.root is not root:
        pending = session.info[PENDING_KEY] = _Pending(root, [])
    return pending


def record(org_id: int, actor: Actor | EventActor, change: Change) -> None:
    """Record one event of the current transaction; it is numbered and written when the transaction commits."""
    record_many(org_id, actor, (change,))


def record_many(org_id: int, actor: Actor | EventActor, changes: Iterable[Change]) -> int:
    """Record events of one actor in order (written in one INSERT at the commit); returns how many."""
    who = actor_of(actor)
    session = db.session()
    pending = _pending(session)
    savepoint = session.get_nested_transaction()
    now = utcnow()
    count = 0
    for change in changes:
        pending.rows.append(
            (
                savepoint,
                {
                    "org_id": org_id,
                    "type": change.type,
                    "object_type": change.object_type,
                    "object_id": change.object_id,
                    "actor_type": who.type,
                    "actor_id": who.id,
                    "actor_name": who.name,
                    "data": change.attributes,
                    "changed_fields": list(change.changed_fields),
                    "created_at": now,
                },
            )
        )
        count += 1
    return count


def updated_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The attributes whose values differ, in ``after``'s order."""
    return [key for key, value in after.items() if before.get(key) != value]


# ---------------------------------------------------------------- what events say about objects

#: session.info key: public ids and names already looked up in this session (they never change)
_REFS_KEY = "change_events_refs"


def _refs_statement(model: Any) -> Any:
    table = model.__table__
    return select(table.c.id, table.c.public_id, table.c.name).where(table.c.id.in_(bindparam("ids", expanding=True)))


# Prepared once: building a statement costs more than running it on an initial sync's hot path.
_REFS = {"departments": _refs_statement(Department), "sync_sources": _refs_statement(SyncSource)}


def _cache() -> dict[tuple[str, int], tuple[str, str]]:
    cache: dict[tuple[str, int], tuple[str, str]] = db.session.info.setdefault(_REFS_KEY, {})
    return cache


def _refs(kind: str, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Internal id -> (public id, name) of ``departments`` or ``sync_sources``, cached for the session."""
    cache = _cache()
    wanted = [i for i in dict.fromkeys(ids) if (kind, i) not in cache]
    if wanted:
        # The connection, not the session: no autoflush, so a caller between its changes and its own
        # flush (a group being linked) still flushes once.
        for row_id, public_id, name in db.session.connection().execute(_REFS[kind], {"ids": wanted}):
            cache[(kind, row_id)] = (public_id, name)
    return {i: cache[(kind, i)] for i in ids if (kind, i) in cache}


def remember_departments(departments: Iterable[tuple[int, str, str]]) -> None:
    """(id, public id, name) of departments a write has just read: its events need not look them up."""
    cache = _cache()
    for row_id, public_id, name in departments:
        cache[("departments", row_id)] = (public_id, name)


def _remember(actor: Actor | EventActor | None) -> None:
    """A sync source acting is the data source of what it writes: its public id and name need no lookup."""
    source = actor.source if isinstance(actor, Actor) else None
    if source is not None:
        _cache()[("sync_sources", source.id)] = (source.public_id, source.name)


def source_ref(source_id: int | None) -> dict[str, str] | None:
    """A data source as events show it: the sync source's public id and name, or None (Admin Console)."""
    if source_id is None:
        return None
    found = _refs("sync_sources", [source_id]).get(source_id)
    return {"id": found[0], "name": found[1]} if found is not None else None


def department_refs(departments: Sequence[tuple[int, str]]) -> list[dict[str, str]]:
    """A member's departments, (id, name) pairs, as events show them: public id and name."""
    found = _refs("departments", [d for d, _ in departments])
    return [{"id": found[d][0], "name": name} for d, name in departments if d in found]


def member_attributes(record: MemberRecord, actor: Actor | EventActor | None = None) -> dict[str, Any]:
    """A member as its events show it (the read API's names: ``user_name`` is SCIM userName).

    ``actor``: who writes it; a sync source's own public id and name are then known without a lookup.
    """
    _remember(actor)
    manager: dict[str, Any] | None = None
    if record.manager_id is not None:
        manager = {"id": record.manager_public_id, "user_name": record.manager_external_id}
    elif record.manager_ref:
        manager = {"ref": record.manager_ref}
    return {
        "id": record.public_id,
        "user_name": record.external_id,
        "email": record.email,
        "name": record.name,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "another_name": record.another_name,
        "employee_id": record.employee_id,
        "employee_type": record.employee_type,
        "job_title": record.job_title,
        "departments": department_refs(record.departments),
        "work_country": record.work_country,
        "mobile": record.mobile,
        # The read API's word: the console's "Inactive" is a suspended member.
        "status": "active" if record.status == "active" else "suspended",
        "user_type": record.user_type,
        "manager": manager,
        "external_id": record.scim_external_id,
        "emails": record.emails,
        "phone_numbers": record.phone_numbers,
        "addresses": record.addresses,
        "source": source_ref(record.source_id),
    }


def member_change(before: MemberRecord, after: MemberRecord, actor: Actor | EventActor | None = None) -> Change | None:
    """The event of a member's update: suspended or reactivated when its status moved, else updated;
    None when nothing an event shows changed."""
    old, new = member_attributes(before, actor), member_attributes(after)
    fields = updated_fields(old, new)
    if not fields:
        return None
    kind = "member.updated"
    if before.status != after.status:
        kind = "member.reactivated" if after.status == "active" else "member.suspended"
    return Change(kind, "member", after.public_id, {key: new[key] for key in fields}, fields)


def group_attributes(group: UserGroup, actor: Actor | EventActor | None = None) -> dict[str, Any]:
    """A user group as its events show it (its members come as group.member_added events)."""
    _remember(actor)
    return {
        "id": group.public_id,
        "display_name": group.display_name,
        "description": group.description,
        "external_id": group.scim_external_id,
        "source": source_ref(group.source_id),
    }


def department_attributes(department: Department) -> dict[str, Any]:
    """A department as its events show it; ``parent_id`` is the parent's public id (None for the root)."""
    with db.session.no_autoflush:
        parent = department.parent
    return {
        "id": department.public_id,
        "name": department.name,
        "parent_id": parent.public_id if parent is not None else None,
        "source": source_ref(department.source_id),
    }


# ---------------------------------------------------------------- writing at commit


_RESERVE = Prepared(
    update(_orgs)
    .where(_orgs.c.id == bindparam("org_id"))
    .values(event_seq=_orgs.c.event_seq + bindparam("count"))
    .returning(_orgs.c.event_seq)
)
_INSERT = Prepared(insert(_events))
_endpoints = WebhookEndpoint.__table__
_SUBSCRIBED = (
    select(_endpoints.c.org_id)
    .where(_endpoints.c.org_id.in_(bindparam("org_ids", expanding=True)), _endpoints.c.enabled.is_(True))
    .distinct()
)
#: seconds a process trusts what it read of an organization's enabled webhook endpoints: the commit
#: hook only decides whether to wake a worker, and the worker's periodic run finds every event anyway
SUBSCRIBED_CACHE_SECONDS = 1.0
_subscribed: dict[int, tuple[float, bool]] = {}


def forget_subscriptions(org_id: int) -> None:
    """An endpoint of the organization was added, enabled or disabled: read it again at the next commit."""
    _subscribed.pop(org_id, None)


def _reserve(connection: Any, org_id: int, count: int) -> int:
    """Reserve ``count`` numbers of the organization; returns the first (see the module's docstring)."""
    last = _RESERVE.execute(connection, {"org_id": org_id, "count": count}).scalar_one()
    return int(last) - count + 1


def _any_subscribed(connection: Any, org_ids: list[int]) -> bool:
    """Whether one of the organizations has an enabled webhook endpoint (cached for about a second)."""
    now = time.monotonic()
    unknown = [o for o in org_ids if _subscribed.get(o, (0.0, False))[0] <= now]
    if unknown:
        found = set(connection.execute(_SUBSCRIBED, {"org_ids": unknown}).scalars())
        for org_id in unknown:
            _subscribed[org_id] = (now + SUBSCRIBED_CACHE_SECONDS, org_id in found)
    return any(_subscribed[o][1] for o in org_ids)


def _write_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its events wait for the real commit
    pending: _Pending | None = session.info.pop(PENDING_KEY, None)
    if pending is None or pending.root is not session.get_transaction() or not pending.rows:
        return
    by_org: dict[int, list[dict[str, Any]]] = {}
    for _savepoint, row in pending.rows:
        by_org.setdefault(row["org_id"], []).append(row)
    connection = session.connection()
    for org_id in sorted(by_org):
        first = _reserve(connection, org_id, len(by_org[org_id]))
        for offset, row in enumerate(by_org[org_id]):
            row["seq"] = first + offset
    _INSERT.execute_many(connection, [row for _savepoint, row in pending.rows])
    if _any_subscribed(connection, list(by_org)):
        session.info[WEBHOOKS_DUE_KEY] = True


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether ``transaction`` is ``ended`` or a savepoint inside it."""
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: _Pending | None = session.info.get(PENDING_KEY)
    if pending is None:
        return
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
        session.info.pop(WEBHOOKS_DUE_KEY, None)
    elif previous_transaction.nested:
        pending.rows = [(sp, row) for sp, row in pending.rows if not _within(sp, previous_transaction)]


def install() -> None:
    """Write the waiting events at each commit and drop them at a rollback (once per process)."""
    if not event.contains(Session, "before_commit", _write_pending):
        event.listen(Session, "before_commit", _write_pending)
        event.listen(Session, "after_soft_rollback", _drop_rolled_back)


install()


# ---------------------------------------------------------------- reading and retention


class EventRow(Protocol):
    """An event as read: the ``ChangeEvent`` model, or a row of ``after`` and ``at``."""

    @property
    def id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def actor_type(self) -> str: ...
    @property
    def actor_id(self) -> str | None: ...
    @property
    def actor_name(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def changed_fields(self) -> list[str]: ...
    @property
    def created_at(self) -> datetime: ...


def document(event_row: EventRow) -> dict[str, Any]:
    """An event as the read API and webhooks show it (``data`` of a webhook's body)."""
    return {
        "id": webhook_id(event_row),
        "seq": event_row.seq,
        "type": event_row.type,
        "created_at": event_row.created_at.isoformat(timespec="milliseconds") + "Z",
        "object": {"type": event_row.object_type, "id": event_row.object_id},
        "actor": {"type": event_row.actor_type, "id": event_row.actor_id, "name": event_row.actor_name},
        "changed_fields": list(event_row.changed_fields or []),
        "attributes": event_row.data or {},
    }


def webhook_id(event_row: EventRow) -> str:
    """The event's stable id (the ``webhook-id`` of every delivery of it, resends included)."""
    return f"evt_{event_row.id}"


_AFTER = (
    select(_events)
    .where(_events.c.org_id == bindparam("org_id"), _events.c.seq > bindparam("seq"))
    .order_by(_events.c.seq)
    .limit(bindparam("limit"))
)
_AT = select(_events).where(_events.c.org_id == bindparam("org_id"), _events.c.seq == bindparam("seq"))


def after(org_id: int, seq: int, *, limit: int) -> list[EventRow]:
    """The organization's events after ``seq``, in order (the unique index on (org_id, seq)).

    Plain rows, not ORM objects: they stay readable after the caller's commits.
    """
    rows = db.session.connection().execute(_AFTER, {"org_id": org_id, "seq": seq, "limit": limit})
    return cast(list[EventRow], list(rows))


def at(org_id: int, seq: int) -> EventRow | None:
    """The organization's event number ``seq``, or None (never made, or pruned)."""
    return cast(EventRow | None, db.session.connection().execute(_AT, {"org_id": org_id, "seq": seq}).first())


def last_seq(org_id: int) -> int:
    """The organization's last event number (0 before its first event)."""
    return int(db.session.scalar(select(Organization.event_seq).where(Organization.id == org_id)) or 0)


def prune(cutoff: datetime, *, batch: int = PRUNE_BATCH) -> int:
    """Delete the events made before ``cutoff``, ``batch`` at a time with a commit after each; returns how many.

    Numbers are never reused: the counter stays on the organization, so a cursor past pruned
    events still reads the next ones.
    """
    gone = 0
    while True:
        ids = list(
            db.session.scalars(
                select(ChangeEvent.id).where(ChangeEvent.created_at < cutoff).order_by(ChangeEvent.id).limit(batch)
            )
        )
        if not ids:
            return gone
        result = db.session.execute(delete(ChangeEvent).where(ChangeEvent.id.in_(ids)))
        db.session.commit()
        gone += cast(CursorResult[Any], result).rowcount
        if len(ids) < batch:
            return gone
