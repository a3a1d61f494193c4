"""The outbox: emails recorded in the transaction that caused them, delivered later by the worker.

A request never talks to the mail server. It adds an ``OutboxMessage`` row beside the change
that caused it, so the mail exists exactly when the change does: a rolled-back request leaves
none, and a process that dies right after its commit leaves a row that the worker's periodic
drain finds. The worker claims due rows (``claim_due``), sends them outside any transaction,
and records the outcome (``record_sent``, ``record_failure``): sent, tried again later with an
exponential backoff, or failed for good after ``MAIL_RETRY_HOURS``.

This module is also the one writer of a notification's email columns (``email_status``,
``email_attempts``, ``emailed_at``): they mirror the delivery of its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, and_, delete, func, or_, select, update

from portal.extensions import db
from portal.models import Notification, OutboxMessage, utcnow

#: the session.info key that tells the after-commit hook (portal.jobs) to wake a worker
NEW_ROWS_KEY = "outbox_new_rows"

#: how long a worker owns a claimed row; past it another worker sends it again (its owner died mid-send)
LEASE = timedelta(minutes=5)

#: the longest last_error kept
ERROR_LENGTH = 500

#: delivered and failed rows are kept this long, then pruned
KEEP_DONE = timedelta(days=30)


@dataclass(frozen=True)
class Claimed:
    """A message a worker owns until it records the outcome (or its lease ends)."""

    id: int
    to: str
    subject: str
    text: str
    attempts: int
    created_at: datetime


def add_email(
    to: str, subject: str, text: str, *, org_id: int | None = None, notification: Notification | None = None
) -> OutboxMessage:
    """Record an email in the caller's transaction; the worker sends it after the commit.

    Nothing is checked against the mail server's rules here: an address or subject that cannot be
    sent (a CR/LF in a header) fails the delivery in the worker, never the request that caused it.
    """
    now = utcnow()
    message = OutboxMessage(
        org_id=org_id,
        kind="email",
        payload={"to": to, "subject": subject, "text": text},
        notification_id=notification.id if notification is not None else None,
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    if notification is not None:
        notification.email_status = "queued"
        notification.email_attempts = 0
    db.session.flush()
    db.session.info[NEW_ROWS_KEY] = True
    return message


def _due(now: datetime) -> Any:
    # Queued and due, or being sent by a worker whose lease has run out.
    return and_(OutboxMessage.status.in_(("queued", "sending")), OutboxMessage.next_attempt_at <= now)


def claim_due(*, now: datetime | None = None, limit: int = 20) -> list[Claimed]:
    """Take up to ``limit`` due messages for this worker; the caller commits before sending them.

    One UPDATE claims them: on PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so
    workers on several hosts take different rows; on SQLite the write lock serializes claims. The
    UPDATE checks again that each row is still due, so a row is never claimed twice.
    """
    now = now or utcnow()
    picked = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(picked.scalar_subquery()), _due(now))
        .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now + LEASE)
        .returning(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.attempts, OutboxMessage.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    return [
        Claimed(
            id=row.id,
            to=str(row.payload.get("to", "")),
            subject=str(row.payload.get("subject", "")),
            text=str(row.payload.get("text", "")),
            attempts=row.attempts,
            created_at=row.created_at,
        )
        for row in sorted(claimed, key=lambda r: r.id)
    ]


def _mine(message: Claimed) -> Any:
    # Still this worker's claim: not taken over by another worker after the lease ran out.
    return and_(
        OutboxMessage.id == message.id,
        OutboxMessage.status == "sending",
        OutboxMessage.attempts == message.attempts,
    )


def _notification_of(message_id: int) -> int | None:
    return db.session.scalar(select(OutboxMessage.notification_id).where(OutboxMessage.id == message_id))


def _mirror(message_id: int, **values: Any) -> None:
    """Copy the delivery state to the message's notification, leaving its activity time alone."""
    note_id = _notification_of(message_id)
    if note_id is not None:
        db.session.execute(
            update(Notification)
            .where(Notification.id == note_id)
            .values(updated_at=Notification.updated_at, **values)
            .execution_options(synchronize_session=False)
        )


def _settled(message: Claimed) -> dict[str, Any]:
    # A settled message keeps who and what, not its text: a set-password link in it is a secret.
    return {"to": message.to, "subject": message.subject}


def record_sent(message: Claimed, *, now: datetime | None = None) -> bool:
    """The mail server accepted the message: mark it sent (and its notification emailed)."""
    now = now or utcnow()
    done = cast(
        CursorResult[Any],
        db.session.execute(
            update(OutboxMessage)
            .where(_mine(message))
            .values(status="sent", sent_at=now, last_error=None, payload=_settled(message))
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if done:
        _mirror(message.id, email_status="sent", email_attempts=message.attempts, emailed_at=now)
    return bool(done)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: the base doubled each time, capped."""
    base = float(current_app.config.get("MAIL_RETRY_BASE_SECONDS", 30))
    cap = float(current_app.config.get("MAIL_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(0, min(attempts - 1, 30))))


def record_failure(
    message: Claimed, error: str, *, permanent: bool = False, now: datetime | None = None
) -> datetime | None:
    """A try failed: schedule the next one, or mark the message failed; returns the next try's time, if any.

    A permanent failure (a message that can never be sent as it is), or one past
    ``MAIL_RETRY_HOURS`` after the message was queued, is final.
    """
    now = now or utcnow()
    give_up_at = message.created_at + timedelta(hours=float(current_app.config.get("MAIL_RETRY_HOURS", 24)))
    next_at = now + retry_delay(message.attempts)
    final = permanent or next_at > give_up_at
    last_error = " ".join(error.split())[:ERROR_LENGTH]
    values: dict[str, Any] = {"last_error": last_error}
    if final:
        values.update(status="failed", payload=_settled(message))
    else:
        values.update(status="queued", next_attempt_at=next_at)
    done = cast(
        CursorResult[Any],
        db.session.execute(
            update(OutboxMessage).where(_mine(message)).values(**values).execution_options(synchronize_session=False)
        ),
    ).rowcount
    if done:
        _mirror(message.id, email_status="failed" if final else "queued", email_attempts=message.attempts)
    return None if final or not done else next_at


def due_stats(now: datetime | None = None) -> tuple[int, datetime | None]:
    """How many messages are due now, and when the oldest of them was queued."""
    now = now or utcnow()
    count, oldest = db.session.execute(select(func.count(), func.min(OutboxMessage.created_at)).where(_due(now))).one()
    return int(count or 0), oldest


def next_due_at() -> datetime | None:
    """When the next queued message is due (None when nothing waits)."""
    return db.session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status.in_(("queued", "sending")))
    )


def prune(now: datetime | None = None, *, batch: int = 2000) -> int:
    """Delete one batch of sent and failed messages older than ``KEEP_DONE``; returns how many went.

    The notification keeps its delivery state; only the message's row goes.
    """
    before = (now or utcnow()) - KEEP_DONE
    old = (
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.status == "sent", OutboxMessage.sent_at < before),
                and_(OutboxMessage.status == "failed", OutboxMessage.created_at < before),
            )
        )
        .limit(batch)
    )
    result = db.session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.id.in_(old.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount
