"""Sync log writing: one ``SyncLog`` row per SCIM write or rejected request, in the caller's transaction.

A request refused at a source's URL (401, 403, 429) is written by ``refused``: repeats
fold into one row per source, reason and minute, counted in ``repeat_count``, so a
flood of bad tokens cannot grow the table.

Secrets never reach a row: the request body is stored with every ``password``
removed (an attribute, a PATCH path, a key of a path-less PATCH value), and the
bearer token is not part of what a row can hold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.models import SyncLog, utcnow

REDACTED = "[redacted]"
_INSERT = insert(SyncLog.__table__)
_SECRET_NAMES = ("password",)


@dataclass(frozen=True)
class RequestInfo:
    """What the sync log keeps about the request that caused an operation."""

    request_id: str | None
    method: str
    path: str
    body: Any
    #: ``time.perf_counter()`` when the request arrived, for the duration
    started: float


def _is_secret(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    last = name.rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()
    return last in _SECRET_NAMES


def redact(body: Any) -> Any:
    """The body with secrets removed: password attributes and PATCH operations on a password path."""
    if isinstance(body, dict):
        out: dict[str, Any] = {}
        path = body.get("path")
        for key, value in body.items():
            if _is_secret(key):
                continue
            if key == "value" and _is_secret(path):
                out[key] = REDACTED
                continue
            out[key] = redact(value)
        return out
    if isinstance(body, list):
        return [redact(item) for item in body]
    return body


def entry(
    source_id: int,
    org_id: int,
    info: RequestInfo | None,
    *,
    operation: str,
    result: str,
    status_code: int,
    object_type: str | None = None,
    object_id: str | None = None,
    object_name: str | None = None,
    changes: dict[str, Any] | None = None,
    associated: list[dict[str, Any]] | None = None,
    notes: list[str] | None = None,
    scim_type: str | None = None,
    error_detail: str | None = None,
) -> dict[str, Any]:
    """The values of one sync log row, ready for ``write`` (built before a write takes the database's lock)."""
    return dict(
        created_at=utcnow(),
        source_id=source_id,
        org_id=org_id,
        operation=operation,
        object_type=object_type,
        object_id=object_id[:36] if object_id else None,
        object_name=object_name[:255] if object_name else None,
        result=result,
        status_code=status_code,
        scim_type=scim_type,
        error_detail=error_detail,
        changes=changes or {},
        associated=associated or [],
        notes=notes or [],
        duration_ms=int((time.perf_counter() - info.started) * 1000) if info else None,
        request_id=info.request_id[:64] if info and info.request_id else None,
        method=info.method[:8] if info else None,
        path=info.path[:500] if info else None,
        request_body=redact(info.body) if info else None,
    )


def write(values: dict[str, Any]) -> None:
    """INSERT a row built by ``entry`` in the caller's transaction (not committed).

    A Core INSERT, not an ORM object: every SCIM request writes one, and nothing
    reads the row back in the same request.
    """
    db.session.execute(_INSERT, values)


def record(source_id: int, org_id: int, info: RequestInfo | None, **fields: Any) -> None:
    """Write one sync log row in the caller's transaction (``entry`` then ``write``)."""
    write(entry(source_id, org_id, info, **fields))


#: why a request at a source's URL was refused -> its HTTP status
REFUSALS = {
    "missing": 401,  # no bearer token
    "invalid": 401,  # a token this source does not accept
    "expired": 401,
    "inactive": 403,  # a draft or deactivated source
    "rate_limited": 429,  # the per-token request limit
    "refusals_limited": 429,  # the limit of refused tokens per client address
}
_FOLD: dict[str, Any] = {}


def fold_key(source_id: int, reason: str, at: datetime) -> str:
    """The key repeats of a refusal fold on: the source, the reason and the minute (UTC)."""
    return f"{source_id}:{reason}:{at:%Y-%m-%dT%H:%M}"


def refusal_reason(key: str | None) -> str | None:
    """The refusal reason a ``fold_key`` names, or None (a row that is no folded refusal)."""
    parts = (key or "").split(":", 2)
    return parts[1] if len(parts) == 3 and parts[1] in REFUSALS else None


def _fold_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (fold_key) DO UPDATE SET repeat_count = repeat_count + 1, for ``dialect``."""
    statement = _FOLD.get(dialect)
    if statement is None:
        table = SyncLog.__table__
        insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert_for(table)
        statement = _FOLD[dialect] = stmt.on_conflict_do_update(
            index_elements=[table.c.fold_key],
            index_where=table.c.fold_key.is_not(None),  # the partial unique index ix_sync_logs_fold_key
            set_={"repeat_count": table.c.repeat_count + 1, "last_seen_at": stmt.excluded.last_seen_at},
        )
    return statement


def refused(
    source_id: int,
    org_id: int,
    info: RequestInfo | None,
    *,
    reason: str,
    error_detail: str,
    scim_type: str | None = None,
) -> None:
    """Log a request refused at the source's URL, folded: one row per source, reason and minute.

    The minute's first refusal inserts the row (its time stays the first request's);
    each repeat adds one to ``repeat_count`` and moves ``last_seen_at``. One
    INSERT ... ON CONFLICT (fold_key) DO UPDATE, so concurrent refusals on either
    database neither lose a count nor make a second row: the unique index on
    ``fold_key`` holds the fold. In the caller's transaction (not committed).
    """
    values = entry(
        source_id,
        org_id,
        info,
        operation="request",
        result="failure",
        status_code=REFUSALS[reason],
        scim_type=scim_type,
        error_detail=error_detail,
    )
    values.update(
        repeat_count=1, last_seen_at=values["created_at"], fold_key=fold_key(source_id, reason, values["created_at"])
    )
    connection = db.session.connection()
    connection.execute(_fold_statement(connection.dialect.name), values)
