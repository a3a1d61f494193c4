"""Admin log writing and querying. Domain functions call ``record``; nothing else writes the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, or_, select

from portal.core.actors import Actor
from portal.core.errors import NotFound
from portal.extensions import db
from portal.models import Admin, AdminLog

SYNC_CATEGORY = "Settings > Organization Data Sync"
DIRECTORY_CATEGORY = "Organization > Member and Department"
ADMINS_CATEGORY = "Settings > Administrators"
API_KEYS_CATEGORY = "Settings > API keys"
WEBHOOKS_CATEGORY = "Settings > Webhooks"

#: event type -> category, in the order the Admin log's Event type filter lists them
EVENT_TYPES: dict[str, str] = {
    "Add sync source": SYNC_CATEGORY,
    "Delete sync source": SYNC_CATEGORY,
    "Edit sync configurations": SYNC_CATEGORY,
    "Activate/Deactivate or Stop Sync Settings": SYNC_CATEGORY,
    "Refresh token": SYNC_CATEGORY,
    "Add member": DIRECTORY_CATEGORY,
    "Edit member": DIRECTORY_CATEGORY,
    "Suspend member": DIRECTORY_CATEGORY,
    "Reactivate member": DIRECTORY_CATEGORY,
    "Delete member": DIRECTORY_CATEGORY,
    "Import members": DIRECTORY_CATEGORY,
    "Add department": DIRECTORY_CATEGORY,
    "Edit department": DIRECTORY_CATEGORY,
    "Delete department": DIRECTORY_CATEGORY,
    "Add user group": DIRECTORY_CATEGORY,
    "Edit user group": DIRECTORY_CATEGORY,
    "Delete user group": DIRECTORY_CATEGORY,
    "Add field": DIRECTORY_CATEGORY,
    "Edit field": DIRECTORY_CATEGORY,
    "Delete field": DIRECTORY_CATEGORY,
    "Add administrator": ADMINS_CATEGORY,
    "Edit administrator": ADMINS_CATEGORY,
    "Edit administrator permissions": ADMINS_CATEGORY,
    "Deactivate administrator": ADMINS_CATEGORY,
    "Reactivate administrator": ADMINS_CATEGORY,
    "Transfer primary administrator": ADMINS_CATEGORY,
    "Reset password": ADMINS_CATEGORY,
    "Sign out everywhere": ADMINS_CATEGORY,
    "Create organization": ADMINS_CATEGORY,
    "Create API key": API_KEYS_CATEGORY,
    "Revoke API key": API_KEYS_CATEGORY,
    "Add webhook endpoint": WEBHOOKS_CATEGORY,
    "Edit webhook endpoint": WEBHOOKS_CATEGORY,
    "Rotate webhook secret": WEBHOOKS_CATEGORY,
    "Disable webhook endpoint": WEBHOOKS_CATEGORY,
    "Enable webhook endpoint": WEBHOOKS_CATEGORY,
    "Delete webhook endpoint": WEBHOOKS_CATEGORY,
    "Resend webhook event": WEBHOOKS_CATEGORY,
}


def record(
    actor: Actor,
    org_id: int,
    event_type: str,
    *,
    target_type: str | None = None,
    target_id: str | int | None = None,
    target_name: str | None = None,
    changes: dict[str, Any] | None = None,
    summary: str | None = None,
) -> AdminLog:
    """Write one admin log entry in the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown admin log event type {event_type!r}")
    entry = AdminLog(
        org_id=org_id,
        admin_id=actor.admin.id if actor.admin is not None else None,
        actor=actor.label,
        event_type=event_type,
        category=EVENT_TYPES[event_type],
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        target_name=target_name,
        ip=actor.ip,
        changes=changes or {},
        summary=summary,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def event_types_by_category() -> dict[str, list[str]]:
    """EVENT_TYPES grouped as the Event type filter shows them: category -> event types, in order."""
    grouped: dict[str, list[str]] = {}
    for event_type, category in EVENT_TYPES.items():
        grouped.setdefault(category, []).append(event_type)
    return grouped


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field-by-field ``{field: [before, after]}`` of the values that changed."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def _escape_like(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape="\\"``: its wildcards match themselves.

    Here and not imported: every domain module writes this log, so it imports none of them.
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query(
    org_id: int,
    *,
    start: datetime,
    end: datetime,
    event_types: list[str] | None = None,
    admin_id: int | None = None,
    search: str | None = None,
) -> Select[AdminLog]:
    """The admin log of an organization, filtered, newest first (not yet paginated)."""
    stmt = (
        select(AdminLog)
        .where(AdminLog.org_id == org_id, AdminLog.created_at >= start, AdminLog.created_at < end)
        .order_by(AdminLog.created_at.desc(), AdminLog.id.desc())
    )
    if event_types:
        stmt = stmt.where(AdminLog.event_type.in_(event_types))
    if admin_id is not None:
        stmt = stmt.where(AdminLog.admin_id == admin_id)
    if search and "\x00" in search:
        # No entry holds a NUL (PostgreSQL refuses one even as a parameter): the search matches nothing.
        stmt = stmt.where(false())
    elif search:
        like = f"%{_escape_like(search.strip())}%"
        stmt = stmt.where(
            or_(
                AdminLog.target_name.ilike(like, escape="\\"),
                AdminLog.actor.ilike(like, escape="\\"),
                AdminLog.summary.ilike(like, escape="\\"),
            )
        )
    return stmt


def get_entry(org_id: int, entry_id: int) -> AdminLog:
    """One admin log entry of the organization, or NotFound."""
    entry = db.session.get(AdminLog, entry_id)
    if entry is None or entry.org_id != org_id:
        raise NotFound("No such admin log entry")
    return entry


def administrators(org_id: int) -> list[Admin]:
    """The organization's administrators, deactivated ones too (their entries stay), by email."""
    return list(db.session.scalars(select(Admin).where(Admin.org_id == org_id).order_by(Admin.email_norm)))
