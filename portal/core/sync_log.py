"""Sync log writing: one ``SyncLog`` row per SCIM write or rejected request, in the caller's transaction.

A request refused at a source's URL (401, 403, 429) is written by ``refused``: repeats
fold into one row per source, reason and minute, counted in ``repeat_count``, so a
flood of bad tokens cannot grow the table.

Secrets never reach a row: the request body is stored with every ``password``
removed, at any depth and however it is spelt (any case, spaces, a schema URN: the
PATCH parser's own reading, ``scim_urns.split_urn``), and the value of any PATCH
operation whose path names one; the bearer token is not part of what a row can hold.
A body over ``MAX_STORED_BODY`` is stored shortened, with a note (``bounded``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.scim_urns import split_urn
from portal.extensions import db
from portal.infra.prepared import Prepared
from portal.models import SyncLog, utcnow

REDACTED = "[redacted]"
_INSERT = Prepared(insert(SyncLog.__table__))
_SECRET_NAMES = ("password",)
#: the quick test of ``_is_secret``: a secret's name anywhere in a key, any case (one C-level search per key)
_MAY_BE_SECRET = re.compile("|".join(map(re.escape, _SECRET_NAMES)), re.IGNORECASE)


@dataclass(frozen=True)
class RequestInfo:
    """What the sync log keeps about the request that caused an operation."""

    request_id: str | None
    method: str
    path: str
    body: Any
    #: ``time.perf_counter()`` when the request arrived, for the duration
    started: float


def _names(path: str) -> list[str]:
    """The attribute and sub-attribute names a path or body key holds, lower-cased and stripped.

    Read as PATCH reads a path (``scim_urns.split_urn``: stripped, any case, the schema URN
    removed), so ``Password ``, ``urn:...:core:2.0:User:password`` and ``password[...]`` all
    name ``password``. A path PATCH would refuse still yields its names: its body is logged too.
    """
    try:
        _urn, rest = split_urn(path)
    except ValueError:
        rest = path.rsplit(":", 1)[-1]
    head, _, tail = rest.partition("[")
    parts = head.split(".") + (tail.rsplit("]", 1)[-1].split(".") if tail else [])
    return [part.strip().lower() for part in parts]


def _is_secret(name: Any) -> bool:
    # The quick test first: each name ``_names`` finds is a piece of the lower-cased text.
    if not isinstance(name, str) or _MAY_BE_SECRET.search(name) is None:
        return False
    return any(part in _SECRET_NAMES for part in _names(name))


def _key(name: Any) -> str | None:
    """A key as the PATCH parser compares it (any case), stripped too: ``"Value "`` is ``value``."""
    return name.strip().lower() if isinstance(name, str) else None


def redact(body: Any) -> Any:
    """The body with secrets removed, at any depth: every key naming a password attribute (any case,
    spacing or schema URN), and the value of a PATCH operation whose path names one (RFC 7644 §3.5.2)."""
    if isinstance(body, dict):
        secret_path = any(_key(key) == "path" and _is_secret(value) for key, value in body.items())
        out: dict[str, Any] = {}
        for key, value in body.items():
            if _is_secret(key):
                continue
            if secret_path and _key(key) == "value":
                out[key] = REDACTED
                continue
            out[key] = redact(value)
        return out
    if isinstance(body, list):
        return [redact(item) for item in body]
    return body


#: a stored request body holds at most this many characters of JSON; a larger one is shortened
MAX_STORED_BODY = 64 * 1024
#: what a shortened body keeps: the first entries of each list, the start of each string
_KEPT_ITEMS = 20
_KEPT_CHARS = 1000
#: the key of the note a shortened body starts with
SHORTENED_NOTE = "_note"


def _shorten(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    if isinstance(value, list):
        kept = [_shorten(item) for item in value[:_KEPT_ITEMS]]
        return kept + ([f"... {len(value) - _KEPT_ITEMS:,} more"] if len(value) > _KEPT_ITEMS else [])
    if isinstance(value, str) and len(value) > _KEPT_CHARS:
        return f"{value[:_KEPT_CHARS]}... ({len(value) - _KEPT_CHARS:,} more characters)"
    return value


def bounded(body: Any) -> Any:
    """The body to store: as it is up to ``MAX_STORED_BODY`` characters of JSON, else shortened with a note.

    A PATCH may carry 10,000 operations (about 900 KB): the row keeps the first entries of each
    list and says how many were left out, so a Sync log row and its Details drawer stay small.
    """
    size = len(json.dumps(body, ensure_ascii=False, default=str))
    if size <= MAX_STORED_BODY:
        return body
    note = (
        f"Shortened: the request body was {size:,} characters of JSON; each list keeps its first "
        f"{_KEPT_ITEMS} entries and each string its first {_KEPT_CHARS:,} characters"
    )
    shortened = _shorten(body)
    if isinstance(shortened, dict) and len(json.dumps(shortened, ensure_ascii=False, default=str)) <= MAX_STORED_BODY:
        return {SHORTENED_NOTE: note, **shortened}
    return {SHORTENED_NOTE: note}


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
        request_body=bounded(redact(info.body)) if info else None,
    )


def write(values: dict[str, Any]) -> None:
    """INSERT a row built by ``entry`` in the caller's transaction (not committed).

    A Core INSERT on the session's connection, not an ORM object nor ``Session.execute``: every SCIM
    request writes one, nothing reads the row back in the same request, and the ORM's execution (its
    autoflush among it) cost a member write some 15 µs more while the database's write lock was held.
    """
    _INSERT.execute(db.session.connection(), values)


#: ``.../Users/<id>`` or ``.../Groups/<id>`` at the end of a SCIM request's path
_OBJECT_PATH = re.compile(r"/(Users|Groups)/([^/]+)/?$")
_OBJECT_TYPES = {"Users": "member", "Groups": "group"}


def object_in_path(path: str | None) -> tuple[str, str] | None:
    """The object a request's URL names, as (object type, id): ``/Users/<id>`` is a member, ``/Groups/<id>``
    a group. None for another path, or an id longer than any object's (the column holds 36 characters)."""
    match = _OBJECT_PATH.search(path or "")
    if match is None or len(match.group(2)) > 36:
        return None
    return _OBJECT_TYPES[match.group(1)], match.group(2)


def record(source_id: int, org_id: int, info: RequestInfo | None, **fields: Any) -> None:
    """Write one sync log row in the caller's transaction (``entry`` then ``write``).

    A row given no object names the one its URL does (``object_in_path``): a PATCH refused
    before its view ran (a body too large) still shows which member it was for.
    """
    if info is not None and not fields.get("object_id"):
        named = object_in_path(info.path)
        if named is not None and fields.get("object_type") in (None, named[0]):
            fields["object_type"], fields["object_id"] = named
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
