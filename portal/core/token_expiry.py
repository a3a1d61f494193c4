"""Warnings before a sync source's bearer token expires: 14, 7 and 1 day ahead, and on the day it expires.

A daily job (``portal.jobs``) calls ``warn_expiring_tokens``; the Sync App card shows the same
state through ``warning_for``, so the console and the notifications use one wording. Days are
UTC calendar days, as the card prints the expiry date: a token that expires on March 15 is
"in 14 days" all through March 1.

Each warning is one notification per sync administrator whose unique ``group_key`` names the
source, the token's expiry time and the threshold: a second run on the same day finds it and
sends nothing, and a refreshed token (a new expiry time) starts afresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.core import notifications
from portal.extensions import db
from portal.models import Notification, SyncSource, utcnow

log = logging.getLogger(__name__)

#: days before the expiry date on which the administrators are warned; 0 is the day itself (and after)
THRESHOLDS: tuple[int, ...] = (14, 7, 1, 0)
#: the notification kind of these warnings
KIND = "token_expiring"


@dataclass(frozen=True)
class ExpiryWarning:
    """Where a token stands against the thresholds: the most urgent one reached."""

    threshold: int
    days_left: int
    expired: bool

    @property
    def label(self) -> str:
        """``Token expires in 7 days``, ``Token expires in 1 day``, ``Token expires today``, ``Token expired``."""
        if self.expired:
            return "Token expired"
        if self.days_left <= 0:
            return "Token expires today"
        return f"Token expires in {self.days_left} day{'' if self.days_left == 1 else 's'}"


def days_left(expires_at: datetime, now: datetime) -> int:
    """UTC calendar days from ``now`` to the expiry date (0 on the day itself, negative after)."""
    return (expires_at.date() - now.date()).days


def warning_for(source: SyncSource, now: datetime | None = None) -> ExpiryWarning | None:
    """The warning the source's token has reached, or None without a token or more than 14 days ahead."""
    if source.token_hash is None or source.token_expires_at is None:
        return None
    now = now or utcnow()
    days = days_left(source.token_expires_at, now)
    reached = [threshold for threshold in THRESHOLDS if days <= threshold]
    if not reached:
        return None
    # Catching up after days without a run: only the most urgent threshold counts.
    return ExpiryWarning(min(reached), days, source.token_expires_at <= now)


def group_key(source: SyncSource, threshold: int) -> str:
    """The notification key of one warning: source, the token's expiry time and the threshold."""
    assert source.token_expires_at is not None
    return f"token_expiry:{source.id}:{source.token_expires_at.isoformat(timespec='seconds')}:{threshold}"


def source_path(source_id: int) -> str:
    """The console page of a source, where its token is refreshed."""
    return f"/settings/directory-sync/{source_id}"


def _body(source: SyncSource, warning: ExpiryWarning) -> str:
    assert source.token_expires_at is not None
    when = source.token_expires_at.strftime("%b %d, %Y %H:%M UTC")
    token = f"The bearer token {source.token_prefix or ''}… of {source.name}"
    if warning.expired:
        return (
            f"{token} expired on {when}. Synchronization requests are refused: refresh the token"
            " and enter the new one in the identity provider."
        )
    return (
        f"{token} expires on {when}. Refresh the token and enter the new one in the identity provider"
        " before then, or synchronization stops."
    )


def _warn(source: SyncSource, warning: ExpiryWarning) -> int:
    """Notify the sync administrators not yet told this warning; returns how many were."""
    key = group_key(source, warning.threshold)
    told = set(db.session.scalars(select(Notification.admin_id).where(Notification.group_key == key)))
    admins = [admin for admin in notifications.sync_admins(source.org_id) if admin.id not in told]
    if not admins:
        return 0
    notifications.send(
        source.org_id,
        admins,
        kind=KIND,
        group_key=key,
        title=f"{source.name}: {warning.label}",
        body=_body(source, warning),
        link=source_path(source.id),
        source_id=source.id,
    )
    return len(admins)


#: the sources whose token is watched: active, not deleted, holding a token with an expiry time
_WATCHED = (
    SyncSource.status == "active",
    SyncSource.deleted_at.is_(None),
    SyncSource.token_hash.is_not(None),
    SyncSource.token_expires_at.is_not(None),
)


def active_sources() -> list[SyncSource]:
    """Active, not deleted sources that hold a token with an expiry time."""
    return list(db.session.scalars(select(SyncSource).where(*_WATCHED).order_by(SyncSource.id)))


def warn_expiring_tokens(now: datetime | None = None) -> int:
    """Warn the sync administrators of every active source whose token reached a threshold; commits.

    Returns how many notifications were sent. Each warning goes out once per source, token and
    threshold, to the console and (through ``notifications.send``) by email. Each source is
    committed on its own: a job has no request to commit it, and one source that fails leaves
    the others' warnings sent.
    """
    now = now or utcnow()
    sent = 0
    for source in active_sources():
        warning = warning_for(source, now)
        if warning is None:
            continue
        source_id = source.id
        try:
            count = _warn(source, warning)
            db.session.commit()
        except Exception:  # one source's failure must not keep the others' warnings back
            db.session.rollback()
            log.exception("token expiry warning failed for sync source %s", source_id)
            continue
        if count:
            log.info(
                "token expiry warning sent",
                extra={"source_id": source_id, "threshold": warning.threshold, "admins": count},
            )
        sent += count
    return sent


def seconds_until_expiry(now: datetime | None = None) -> dict[int, float]:
    """Seconds until each active source's token expires (negative once expired), by source id."""
    now = now or utcnow()
    rows = db.session.execute(select(SyncSource.id, SyncSource.token_expires_at).where(*_WATCHED))
    return {source_id: (expires_at - now).total_seconds() for source_id, expires_at in rows if expires_at is not None}
