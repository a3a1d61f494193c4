"""Sync health figures read from the Sync log: the Sync App card's numbers and the details page's charts.

Every figure is an aggregate computed by the database over one index range: the
source's rows since a time (``ix_sync_logs_source_created``: source, created_at), grouped
by the hour (SQLite ``strftime``, PostgreSQL ``date_trunc``). The charts' 7 days of rows
are read once, grouped by hour, result and operation; the days and the last 24 hours are
summed from those hours here. A folded refusal row stands for ``repeat_count`` requests
and is counted so. Times are UTC, as everywhere in the console.

The Sync log holds every SCIM write and every refused or failed request (successful reads
are not logged), so "requests" here are those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select

from portal.extensions import db
from portal.models import SyncLog, utcnow

#: the hourly chart's span, and the daily charts'
HOURS = 24
DAYS = 7
#: how far the card's "failures in the last 24 hours" reach
FAILURE_WINDOW = timedelta(hours=24)
#: how far back the card looks for the last failure: the charts' days
LAST_FAILURE_WINDOW = timedelta(days=DAYS)
#: the member operations the members chart shows: (sync log operation, series key)
MEMBER_SERIES = (("create", "created"), ("update", "updated"), ("deactivate", "suspended"))


@dataclass(frozen=True, slots=True)
class RequestBucket:
    """Requests of one hour or one day: those that succeeded and those that failed."""

    start: datetime
    success: int = 0
    failure: int = 0

    @property
    def total(self) -> int:
        return self.success + self.failure


@dataclass(frozen=True, slots=True)
class MemberDay:
    """Members the source created, updated and suspended on one day."""

    start: datetime
    created: int = 0
    updated: int = 0
    suspended: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.suspended


@dataclass(frozen=True, slots=True)
class Charts:
    """The details page's three charts, oldest bucket first."""

    hourly: list[RequestBucket]
    daily: list[RequestBucket]
    members: list[MemberDay]


@dataclass(frozen=True, slots=True)
class LastFailure:
    """The source's latest failed request: when, its HTTP status and its message."""

    at: datetime
    status_code: int
    detail: str | None


@dataclass(slots=True)
class Health:
    """What a Sync App card tells about its source besides the source's own columns."""

    failures_24h: int = 0
    #: where the 24 hours began, minute-aligned: the Sync log link filters from there
    failures_since: datetime = field(default_factory=utcnow)
    last_failure: LastFailure | None = None


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _hour_bucket() -> ColumnElement[Any]:
    """The row's hour as SQL: the same text for SELECT and GROUP BY (literals, not bound parameters)."""
    if _dialect() == "postgresql":
        return func.date_trunc(literal_column("'hour'"), SyncLog.created_at)
    return func.strftime(literal_column("'%Y-%m-%d %H'"), SyncLog.created_at)


def _as_hour(value: Any) -> datetime:
    """An hour bucket as the database returned it (a timestamp, or SQLite's ``YYYY-MM-DD HH``)."""
    if isinstance(value, datetime):
        return value.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    return datetime.strptime(str(value), "%Y-%m-%d %H")


def charts_statement(org_id: int, source_id: int, since: datetime, until: datetime) -> Select[Any]:
    """(hour, result, object_type, operation, requests, rows) of the source's log in [since, until), grouped."""
    hour = _hour_bucket().label("hour")
    return (
        select(
            hour,
            SyncLog.result,
            SyncLog.object_type,
            SyncLog.operation,
            func.sum(SyncLog.repeat_count),
            func.count(),
        )
        .where(
            SyncLog.source_id == source_id,
            SyncLog.created_at >= since,
            SyncLog.created_at < until,
            SyncLog.org_id == org_id,
        )
        .group_by(literal_column("hour"), SyncLog.result, SyncLog.object_type, SyncLog.operation)
    )


def charts(org_id: int, source_id: int, now: datetime | None = None) -> Charts:
    """Requests per hour (last 24 hours) and per day (last 7 days) by result, and member changes per day.

    One grouped query over the last 7 days of the source's log. The current hour and the
    current day are the last buckets, so a request made a moment ago is already counted.
    """
    now = now or utcnow()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    today = this_hour.replace(hour=0)
    first_day = today - timedelta(days=DAYS - 1)
    hours = [this_hour - timedelta(hours=n) for n in range(HOURS - 1, -1, -1)]
    days = [first_day + timedelta(days=n) for n in range(DAYS)]
    by_hour: dict[datetime, list[int]] = {h: [0, 0] for h in hours}
    by_day: dict[datetime, list[int]] = {d: [0, 0] for d in days}
    members: dict[datetime, dict[str, int]] = {d: {} for d in days}
    series = dict(MEMBER_SERIES)
    until = this_hour + timedelta(hours=1)
    grouped = db.session.execute(charts_statement(org_id, source_id, first_day, until)).all()
    for raw_hour, result, object_type, operation, requests, rows in grouped:
        hour = _as_hour(raw_hour)
        slot = 0 if result == "success" else 1
        if hour in by_hour:
            by_hour[hour][slot] += int(requests or 0)
        day = hour.replace(hour=0)
        if day not in by_day:
            continue
        by_day[day][slot] += int(requests or 0)
        if result == "success" and object_type == "member" and operation in series:
            key = series[operation]
            members[day][key] = members[day].get(key, 0) + int(rows)
    return Charts(
        hourly=[RequestBucket(h, *by_hour[h]) for h in hours],
        daily=[RequestBucket(d, *by_day[d]) for d in days],
        members=[MemberDay(d, **members[d]) for d in days],
    )


def failures_statement(org_id: int, source_ids: list[int], since: datetime) -> Select[int, int]:
    """Failed requests per source since ``since``: one grouped query over that range of the org's log."""
    return (
        select(SyncLog.source_id, func.sum(SyncLog.repeat_count))
        .where(
            SyncLog.org_id == org_id,
            SyncLog.created_at >= since,
            SyncLog.source_id.in_(source_ids),
            SyncLog.result == "failure",
        )
        .group_by(SyncLog.source_id)
    )


def last_failure_statement(
    org_id: int, source_id: int, since: datetime
) -> Select[datetime, datetime | None, int, str | None]:
    """The source's latest failed row since ``since``, read backwards along the source's time index."""
    return (
        select(SyncLog.created_at, SyncLog.last_seen_at, SyncLog.status_code, SyncLog.error_detail)
        .where(
            SyncLog.source_id == source_id,
            SyncLog.created_at >= since,
            SyncLog.org_id == org_id,
            SyncLog.result == "failure",
        )
        .order_by(SyncLog.created_at.desc(), SyncLog.id.desc())
        .limit(1)
    )


def last_failure(org_id: int, source_id: int, now: datetime | None = None) -> LastFailure | None:
    """The source's latest failed request within ``LAST_FAILURE_WINDOW`` (the charts' 7 days), or None.

    Bounded: without an index on the result, a source that never failed would be read over its
    whole history (about 600 ms for a million rows on SQLite); 7 days of one source is a short
    range of ``ix_sync_logs_source_created``.
    """
    since = (now or utcnow()) - LAST_FAILURE_WINDOW
    row = db.session.execute(last_failure_statement(org_id, source_id, since)).first()
    if row is None:
        return None
    # A folded refusal's last repeat is later than its row's time.
    return LastFailure(row.last_seen_at or row.created_at, row.status_code, row.error_detail)


def health(org_id: int, source_ids: Iterable[int], now: datetime | None = None) -> dict[int, Health]:
    """Each source's card figures: failed requests in the last 24 hours (counted from a whole minute,
    as the Sync log's time filter reads it) and its latest failure."""
    ids = list(source_ids)
    if not ids:
        return {}
    since = (now or utcnow()).replace(second=0, microsecond=0) - FAILURE_WINDOW
    counts = {
        source_id: int(count or 0)
        for source_id, count in db.session.execute(failures_statement(org_id, ids, since)).all()
    }
    return {
        source_id: Health(
            failures_24h=counts.get(source_id, 0),
            failures_since=since,
            last_failure=last_failure(org_id, source_id, now),
        )
        for source_id in ids
    }
