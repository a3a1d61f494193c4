"""Sync log writing: one ``SyncLog`` row per SCIM write or rejected request, in the caller's transaction.

Secrets never reach a row: the request body is stored with every ``password``
removed (an attribute, a PATCH path, a key of a path-less PATCH value), and the
bearer token is not part of what a row can hold.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

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
