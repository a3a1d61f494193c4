"""Retention: old Sync log rows, read notifications and Admin log entries are deleted by a daily job.

How long each is kept comes from the configuration (days; 0 keeps for ever):
``SYNC_LOG_RETENTION_DAYS`` (180), ``NOTIFICATION_RETENTION_DAYS`` (90, read notifications only:
an unread one is kept until it is read), ``ADMIN_LOG_RETENTION_DAYS`` (365). A row goes when it
is older than that: made before ``now - days``; one made exactly then is kept. Change events
and webhook deliveries are kept as long as the Sync log.

Rows go in batches of ``BATCH``, each its own transaction: the ids are read first (a read takes
no write lock), then one DELETE by primary key and a commit, so a SCIM write waits for one short
batch at most, never for the whole purge. Each read walks an index that starts with the scope
(``ix_sync_logs_org_created``, ``ix_admin_logs_org_created`` per organization,
``ix_notifications_admin_unread`` per administrator), so a batch costs the rows it finds, not
a scan of the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, delete, select

from portal.core import events, webhooks
from portal.extensions import db
from portal.models import Admin, AdminLog, Notification, Organization, SyncLog, utcnow

log = logging.getLogger(__name__)

#: rows deleted per statement (and transaction)
BATCH = 5000

#: what is pruned -> (configuration key, default days)
RETENTION: dict[str, tuple[str, int]] = {
    "sync_log": ("SYNC_LOG_RETENTION_DAYS", 180),
    "notifications": ("NOTIFICATION_RETENTION_DAYS", 90),
    "admin_log": ("ADMIN_LOG_RETENTION_DAYS", 365),
}


def retention_days(name: str) -> int:
    """The configured days ``name`` is kept (0: for ever)."""
    key, default = RETENTION[name]
    value = current_app.config.get(key)
    return default if value is None else int(value)


def _old(model: Any, scope: Any, scope_id: int, before: datetime, *more: Any) -> Select[int, datetime]:
    """The ids and times of the scope's rows made before ``before``, oldest first."""
    return (
        select(model.id, model.created_at)
        .where(scope == scope_id, model.created_at < before, *more)
        .order_by(model.created_at, model.id)
    )


def old_sync_log(org_id: int, before: datetime) -> Select[int, datetime]:
    """The organization's Sync log rows made before ``before`` (ix_sync_logs_org_created)."""
    return _old(SyncLog, SyncLog.org_id, org_id, before)


def old_admin_log(org_id: int, before: datetime) -> Select[int, datetime]:
    """The organization's Admin log entries made before ``before`` (ix_admin_logs_org_created)."""
    return _old(AdminLog, AdminLog.org_id, org_id, before)


def old_read_notifications(admin_id: int, before: datetime) -> Select[int, datetime]:
    """The administrator's read notifications made before ``before`` (ix_notifications_admin_unread)."""
    return _old(Notification, Notification.admin_id, admin_id, before, Notification.read_at.is_not(None))


def _delete_batches(model: Any, old: Select[int, datetime], batch: int) -> int:
    """Delete the rows ``old`` selects, ``batch`` at a time, committing after each; returns how many went."""
    gone = 0
    query = old
    while True:
        rows = db.session.execute(query.limit(batch)).all()
        if not rows:
            return gone
        db.session.execute(
            delete(model).where(model.id.in_([row[0] for row in rows])).execution_options(synchronize_session=False)
        )
        db.session.commit()
        gone += len(rows)
        if len(rows) < batch:
            return gone
        # The next batch starts where this one ended, not at the index's first (now deleted) entries.
        query = old.where(model.created_at >= rows[-1][1])


def _prune_scoped(
    name: str,
    model: Any,
    scopes: Select[int],
    old: Callable[[int, datetime], Select[int, datetime]],
    now: datetime,
    batch: int,
) -> int:
    days = retention_days(name)
    if days <= 0:
        return 0
    before = now - timedelta(days=days)
    # The scopes are read once, up front: a scope made meanwhile has nothing that old.
    return sum(_delete_batches(model, old(scope, before), batch) for scope in list(db.session.scalars(scopes)))


def prune(now: datetime | None = None, *, batch: int = BATCH) -> dict[str, int]:
    """Delete what is past its retention; commits batch by batch and returns the count of each kind."""
    now = now or utcnow()
    orgs = select(Organization.id).order_by(Organization.id)
    admins = select(Admin.id).order_by(Admin.id)
    counts = {
        "sync_log": _prune_scoped("sync_log", SyncLog, orgs, old_sync_log, now, batch),
        "notifications": _prune_scoped("notifications", Notification, admins, old_read_notifications, now, batch),
        "admin_log": _prune_scoped("admin_log", AdminLog, orgs, old_admin_log, now, batch),
    }
    # Change events and webhook deliveries follow the Sync log's retention (issue 16).
    sync_days = retention_days("sync_log")
    events_cutoff = now - timedelta(days=sync_days)
    counts["change_events"] = events.prune(events_cutoff, batch=batch) if sync_days > 0 else 0
    counts["webhook_deliveries"] = webhooks.prune_deliveries(events_cutoff, batch=batch) if sync_days > 0 else 0
    db.session.commit()
    log.info(
        "retention: deleted %d sync log rows, %d read notifications, %d admin log entries, %d change events,"
        " %d webhook deliveries",
        counts["sync_log"],
        counts["notifications"],
        counts["admin_log"],
        counts["change_events"],
        counts["webhook_deliveries"],
        extra={"retention": counts},
    )
    return counts
