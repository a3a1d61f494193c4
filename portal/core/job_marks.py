"""Moments the background worker leaves for every host to see: its heartbeat, and which daily jobs ran today.

They live in the database (``job_marks``), not in the queue's storage, so a web process on
any host reads them with the connection it already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import JobMark, utcnow

HEARTBEAT = "heartbeat"


def _set(name: str, at: datetime) -> None:
    mark = db.session.get(JobMark, name)
    if mark is not None:
        mark.at = at
        db.session.flush()
        return
    try:
        # Two workers starting together may both find no row: the primary key keeps one.
        with db.session.begin_nested():
            db.session.add(JobMark(name=name, at=at))
            db.session.flush()
    except IntegrityError:
        db.session.execute(update(JobMark).where(JobMark.name == name).values(at=at))


def beat(now: datetime | None = None) -> None:
    """Record that a worker is alive and taking jobs off the queue."""
    _set(HEARTBEAT, now or utcnow())


def last(name: str) -> datetime | None:
    """When ``name`` was last marked (None when never)."""
    return db.session.scalar(select(JobMark.at).where(JobMark.name == name))


def heartbeat_at() -> datetime | None:
    """The last worker heartbeat, from whichever host it came."""
    return last(HEARTBEAT)


@dataclass(frozen=True)
class DailyClaim:
    """Today's run of a daily job, won by this worker; ``previous`` is the mark it replaced."""

    name: str
    previous: datetime | None


def claim_daily(name: str, now: datetime | None = None) -> DailyClaim | None:
    """Claim today's (UTC) run of the daily job ``name``: None when it ran today already.

    Every host's worker tries each hour; the conditional UPDATE (or the primary key, for a
    first run) lets exactly one win a day. The caller commits the claim before running the job,
    so other hosts see it, and gives it back with ``release_daily`` when the run fails.
    """
    now = now or utcnow()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    previous = last(name)
    if previous is None:
        try:
            with db.session.begin_nested():
                db.session.add(JobMark(name=name, at=now))
                db.session.flush()
            return DailyClaim(name, None)
        except IntegrityError:
            previous = last(name)
            if previous is None:
                raise
    won = cast(
        CursorResult[Any],
        db.session.execute(
            update(JobMark).where(JobMark.name == name, JobMark.at < day_start, JobMark.at == previous).values(at=now)
        ),
    ).rowcount
    return DailyClaim(name, previous) if won else None


def release_daily(claim: DailyClaim) -> None:
    """Give today's claim back after a failed run, so the next hourly try runs the job again."""
    if claim.previous is None:
        db.session.execute(delete(JobMark).where(JobMark.name == claim.name))
    else:
        db.session.execute(update(JobMark).where(JobMark.name == claim.name).values(at=claim.previous))
