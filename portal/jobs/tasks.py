"""The jobs, registered on an app's Huey instance; each runs inside that app's context.

- ``drain_outbox``: deliver the due outbox emails; enqueued after a commit that recorded some,
  every minute by the scheduler, and at the time of the next retry.
- ``heartbeat``: every 30 s, the moment a worker last took a job (``/readyz`` reads it).
- ``warn_expiring_tokens`` and ``prune``: daily. The scheduler offers them every hour; the first
  worker of the (UTC) day to claim a run does it, so several hosts run each once, and a day the
  worker was down at night is made up as soon as it is back.
- ``deliver_webhooks``: send change events to webhook endpoints (``portal.core.webhooks``); enqueued
  after a commit that wrote events for an organization with an endpoint, and every
  ``WEBHOOK_POLL_SECONDS`` (the guarantee: a lost wake-up delays a delivery by that much).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Flask
from huey import Huey, crontab
from huey.api import Task, TaskWrapper
from huey.signals import SIGNAL_EXECUTING

from portal.core import job_marks, outbox, webhooks
from portal.extensions import db
from portal.infra import logs, mail as transport, metrics
from portal.models import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

#: messages claimed at once by one worker; several workers drain in parallel
CLAIM_BATCH = 10

#: seconds between heartbeats (the scheduler wakes each minute; a beat half a minute later fills the gap)
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class Tasks:
    """The tasks of one Huey instance: call one to enqueue it."""

    drain: TaskWrapper
    heartbeat: TaskWrapper
    warn_expiring_tokens: TaskWrapper
    prune: TaskWrapper
    deliver_webhooks: TaskWrapper


def deliver_due(app: Flask, retry_at: Callable[[datetime], None] | None = None) -> int:
    """Send every due outbox email; returns how many the mail server accepted.

    Each batch is claimed and committed before anything is sent, and each outcome is committed
    at once, so a worker that dies loses at most the message it was sending (sent again after
    the lease). ``retry_at`` is told when a message that failed is due again.
    """
    smtp_url = app.config.get("SMTP_URL") or ""
    if not smtp_url:
        if outbox.due_stats()[0]:
            log.warning("outbox messages are waiting but SMTP_URL is not set in the worker")
        return 0
    sender = app.config.get("MAIL_FROM") or "no-reply@localhost"
    accepted = 0
    while True:
        claimed = outbox.claim_due(limit=CLAIM_BATCH)
        db.session.commit()
        for message in claimed:
            accepted += _deliver(transport.Mail(smtp_url, sender, message.to, message.subject, message.text), message)
            db.session.commit()
        if len(claimed) < CLAIM_BATCH:
            break
    next_at = outbox.next_due_at()
    # Later than a minute away, the scheduler's every-minute drain comes first anyway.
    if retry_at is not None and next_at is not None and next_at - utcnow() < timedelta(seconds=60):
        retry_at(next_at)
    return accepted


def _deliver(mail: transport.Mail, message: outbox.Claimed) -> int:
    try:
        transport.send(mail)
    except Exception as error:
        metrics.record_mail_failure()
        permanent = transport.is_permanent(error)
        next_at = outbox.record_failure(message, f"{type(error).__name__}: {error}", permanent=permanent)
        log.warning(
            "email %s (try %d) not delivered: %s; %s",
            message.id,
            message.attempts,
            type(error).__name__,
            f"next try at {next_at:%Y-%m-%d %H:%M:%S} UTC" if next_at else "failed for good",
        )
        return 0
    if outbox.record_sent(message):
        log.info("email %s delivered (try %d)", message.id, message.attempts)
    return 1


def run_daily(name: str, job: Callable[[datetime], T], now: datetime | None = None) -> T | None:
    """Run ``job(now)`` unless a worker (of any host) ran it today already; None when skipped."""
    now = now or utcnow()
    claim = job_marks.claim_daily(name, now)
    db.session.commit()
    if claim is None:
        return None
    try:
        result = job(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        job_marks.release_daily(claim)
        db.session.commit()
        raise
    log.info("daily job %s done: %s", name, result)
    return result


def _prune_all(now: datetime) -> dict[str, int]:
    from portal.core import retention

    counts = dict(retention.prune(now))
    gone = 0
    while True:
        batch = outbox.prune(now)
        db.session.commit()
        gone += batch
        if not batch:
            break
    counts["outbox"] = gone
    return counts


def _warn_tokens(now: datetime) -> int:
    from portal.core import token_expiry

    return token_expiry.warn_expiring_tokens(now)


def register(huey: Huey, app: Flask) -> Tasks:
    """Register the jobs on ``huey``; each runs in ``app``'s context and logs with its job id."""

    def in_app(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> T:
            with app.app_context():
                return func(*args, **kwargs)

        return run

    @huey.signal(SIGNAL_EXECUTING)
    def _bind_job(signal: str, task: Task, *args: Any) -> None:
        logs.bind_job(task.id, task.name)

    @huey.post_execute()
    def _unbind_job(task: Task, value: Any, error: Exception | None) -> None:
        logs.unbind_job()

    def schedule_drain(at: datetime) -> None:
        drain.schedule(delay=max(0.0, (at - utcnow()).total_seconds()))

    @huey.task(name="drain_outbox")
    @in_app
    def drain() -> int:
        return deliver_due(app, schedule_drain)

    @huey.periodic_task(crontab(minute="*"), name="drain_outbox_every_minute")
    @in_app
    def drain_every_minute() -> int:
        return deliver_due(app, schedule_drain)

    @huey.task(name="heartbeat")
    @in_app
    def heartbeat() -> None:
        job_marks.beat()
        db.session.commit()

    @huey.periodic_task(crontab(minute="*"), name="heartbeat_every_minute")
    @in_app
    def heartbeat_every_minute() -> None:
        job_marks.beat()
        db.session.commit()
        heartbeat.schedule(delay=HEARTBEAT_SECONDS)

    @huey.periodic_task(crontab(minute="5"), name="warn_expiring_tokens")
    @in_app
    def warn_expiring_tokens() -> int | None:
        return run_daily("warn_expiring_tokens", _warn_tokens)

    @huey.periodic_task(crontab(minute="15"), name="prune")
    @in_app
    def prune() -> dict[str, int] | None:
        return run_daily("prune", _prune_all)

    def poll_webhooks_this_minute() -> None:
        # Huey's scheduler offers periodic tasks once a minute: runs scheduled through the minute poll the rest.
        poll = max(1, int(app.config.get("WEBHOOK_POLL_SECONDS") or 5))
        for delay in range(poll, 60, poll):
            deliver_webhooks.schedule(delay=delay)

    @huey.task(name="deliver_webhooks")
    @in_app
    def deliver_webhooks(poll: bool = False) -> int:
        if poll:  # a worker that starts polls at once, not from the next whole minute on
            poll_webhooks_this_minute()
        return webhooks.deliver_due()

    @huey.periodic_task(crontab(minute="*"), name="deliver_webhooks_every_minute")
    @in_app
    def deliver_webhooks_every_minute() -> int:
        poll_webhooks_this_minute()
        return webhooks.deliver_due()

    return Tasks(
        drain=drain,
        heartbeat=heartbeat,
        warn_expiring_tokens=warn_expiring_tokens,
        prune=prune,
        deliver_webhooks=deliver_webhooks,
    )
