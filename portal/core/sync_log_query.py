"""Reading the sync log: filtered queries, one entry, and what an administrator is told about it.

The SCIM door writes ``SyncLog`` rows; this module only reads them, so the console's
Sync log page and its CSV export share one definition of each filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select

from portal.core.errors import NotFound
from portal.core.fields import STANDARD_FIELDS
from portal.core.member_list import escape_like, unsearchable
from portal.core.sync_log import redact, refusal_reason
from portal.extensions import db
from portal.models import SyncLog

#: the operation filter's value for requests refused at the source's URL: ``request`` rows with one of
#: ``REFUSED_STATUSES`` (a bad or missing token, a source not activated, a rate limit; ``sync_log.refused``)
REFUSED = "refused"
REFUSED_STATUSES = (401, 403, 429)
#: the operations an administrator can filter on (``request`` rows are rejected requests)
OPERATIONS = ("create", "update", "deactivate", "reactivate", "delete", "link", REFUSED)
#: how the filter and the table name each operation
OPERATION_LABELS = {
    "create": "Create",
    "update": "Update",
    "deactivate": "Deactivate",
    "reactivate": "Reactivate",
    "delete": "Delete",
    "link": "Link",
    "request": "Request",
    REFUSED: "Refused request",
}
RESULTS = ("success", "failure")
OBJECT_TYPES = ("member", "group")


@dataclass(frozen=True)
class SyncLogFilters:
    """The Sync log's filters; ``end`` is exclusive, every value optional."""

    operation: str | None = None
    result: str | None = None
    object_type: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    search: str | None = None


def query(org_id: int, source_id: int, filters: SyncLogFilters) -> Select[SyncLog]:
    """The source's sync log, filtered, newest first (not yet paginated)."""
    stmt = (
        select(SyncLog)
        .where(SyncLog.org_id == org_id, SyncLog.source_id == source_id)
        .order_by(SyncLog.created_at.desc(), SyncLog.id.desc())
    )
    if filters.operation == REFUSED:
        stmt = stmt.where(SyncLog.operation == "request", SyncLog.status_code.in_(REFUSED_STATUSES))
    elif filters.operation:
        stmt = stmt.where(SyncLog.operation == filters.operation)
    if filters.result:
        stmt = stmt.where(SyncLog.result == filters.result)
    if filters.object_type:
        stmt = stmt.where(SyncLog.object_type == filters.object_type)
    if filters.start is not None:
        stmt = stmt.where(SyncLog.created_at >= filters.start)
    if filters.end is not None:
        stmt = stmt.where(SyncLog.created_at < filters.end)
    if filters.search and unsearchable(filters.search):
        stmt = stmt.where(false())
    elif filters.search and filters.search.strip():
        search = escape_like(filters.search.strip())
        matches: ColumnElement[bool] = SyncLog.object_name.ilike(f"%{search}%", escape="\\")
        # The object's id too (a failed request may name its object by the id in its URL alone), from its
        # start and for 8 characters or more: a short word would otherwise match inside random hex ids.
        if len(filters.search.strip()) >= ID_SEARCH_MIN:
            matches = or_(matches, SyncLog.object_id.ilike(f"{search}%", escape="\\"))
        stmt = stmt.where(matches)
    return stmt


#: the shortest search that is also looked for at the start of object ids
ID_SEARCH_MIN = 8


def operation_label(entry: SyncLog) -> str:
    """The operation as the table names it: a refused request is told apart from other failed requests."""
    if entry.operation == "request" and entry.status_code in REFUSED_STATUSES:
        return OPERATION_LABELS[REFUSED]
    return OPERATION_LABELS.get(entry.operation, entry.operation.capitalize())


def get_entry(org_id: int, source_id: int, log_id: int) -> SyncLog:
    """One sync log entry of the source, or NotFound."""
    entry = db.session.get(SyncLog, log_id)
    if entry is None or entry.org_id != org_id or entry.source_id != source_id:
        raise NotFound("No such sync log entry")
    return entry


ASSOCIATED_LABELS = {"department": "Department", "job_title": "Job title"}
#: member field key -> the seed's label (its attribute table), for changes shown in the logs
_FIELD_LABELS = {key: label for key, label, *_rest in STANDARD_FIELDS} | {"status": "Status"}


def field_label(key: str) -> str:
    """How a changed field is named in the logs: the seed's label for a member field, else the key made readable."""
    if key in _FIELD_LABELS:
        return _FIELD_LABELS[key]
    return key.replace("_", " ").capitalize() if "_" in key or key.islower() else key


def labelled(changes: dict[str, Any] | None) -> dict[str, Any]:
    """``{field: [before, after]}`` with the fields named by ``field_label``."""
    return {field_label(key): pair for key, pair in (changes or {}).items()}


def shown_value(value: Any) -> str:
    """A before or after value as one line of text; nothing reads "(empty)"."""
    if value is None or value == "" or value == []:
        return "(empty)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def message(entry: SyncLog) -> str:
    """The one-line message of the table: the error, what the operation noted, or what changed."""
    if entry.result != "success":
        return entry.error_detail or f"HTTP {entry.status_code}"
    if entry.notes:
        return "; ".join(entry.notes)
    parts = []
    if entry.associated:
        parts = [
            f"{ASSOCIATED_LABELS.get(a.get('type', ''), a.get('type'))} {a.get('name')}"
            f"{' (new)' if a.get('created') else ''}"
            for a in entry.associated
        ]
    elif len(entry.changes or {}) <= 2:
        parts = [
            f"{field}: {shown_value(pair[0])} → {shown_value(pair[1])}"
            for field, pair in labelled(entry.changes).items()
        ]
    else:
        fields = list(labelled(entry.changes))
        parts = [f"Changed {', '.join(fields[:4])}{f' and {len(fields) - 4} more' if len(fields) > 4 else ''}"]
    return " · ".join(parts)


def _uniqueness_label(detail: str) -> str:
    lowered = detail.lower()
    for word, label in (("employee", "employee ID"), ("email", "email"), ("mobile", "mobile")):
        if word in lowered:
            return label
    return "userName"


def _sent_value(body: Any, label: str) -> str | None:
    """The value of the clashing attribute in the request body, when the body has it."""
    if not isinstance(body, dict):
        return None
    if label == "userName":
        return body.get("userName")
    if label in ("email", "mobile"):
        values = [e for e in body.get("emails" if label == "email" else "phoneNumbers") or [] if isinstance(e, dict)]
        work = [e for e in values if e.get("type") == "work"] or values
        return work[0].get("value") if work else None
    for key, value in body.items():
        if key.lower().endswith("enterprise:2.0:user") and isinstance(value, dict):
            return value.get("employeeNumber")
    return None


#: the hint of each reason a request at a source's URL is refused (``portal.core.sync_log.REFUSALS``)
REFUSAL_HINTS = {
    "missing": (
        "{provider} sent no token. Paste this sync source's token into {provider}'s SCIM settings as the "
        "Bearer token (Refresh token on the Sync App card issues a new one if you no longer have it)."
    ),
    "invalid": (
        "{provider} sent a token this sync source does not accept. Copy the token again (Refresh token "
        "on the Sync App card) and paste it into {provider}'s SCIM settings."
    ),
    "expired": (
        "The token has expired. Click Refresh token on the Sync App card and paste the new token into {provider}."
    ),
    "inactive": "Activate the sync source: Settings > Directory Sync, then Activate on its Sync App card.",
    "rate_limited": (
        "{provider} sent more requests than the rate limit allows. It retries after the time the "
        "answer names (Retry-After); if it keeps hitting the limit, slow its sync down or ask whoever "
        "runs this portal to raise SCIM_RATE_LIMIT."
    ),
    "refusals_limited": (
        "Too many requests with a refused token came from {provider}'s address, so its requests "
        "wait for a while. Copy the token again (Refresh token on the Sync App card) and paste it "
        "into {provider}'s SCIM settings."
    ),
}


def _refusal(entry: SyncLog, lowered: str) -> str | None:
    """Why the request was refused at the source's URL: its fold key's reason, else read from status and detail."""
    reason = refusal_reason(entry.fold_key)
    if reason is not None:
        return reason
    if entry.status_code == 401:
        if "expired" in lowered:
            return "expired"
        return "missing" if "authentication required" in lowered else "invalid"
    if entry.status_code == 403:
        return "inactive"
    if entry.status_code == 429:
        return "refusals_limited" if "refused token" in lowered else "rate_limited"
    return None


def hint(entry: SyncLog, provider: str) -> str | None:
    """How an administrator fixes a failed request, read from its refusal reason, status, scimType and detail."""
    if entry.result == "success":
        return None
    detail = entry.error_detail or ""
    lowered = detail.lower()
    refusal = _refusal(entry, lowered)
    if refusal is not None:
        return REFUSAL_HINTS[refusal].format(provider=provider)
    if "managed by another active sync source" in lowered:
        return (
            f"The member is managed by another active sync source. Deactivate that source first, or stop "
            f"assigning this user to the app in {provider}."
        )
    if entry.scim_type == "uniqueness" or entry.status_code == 409:
        label = _uniqueness_label(detail)
        value = _sent_value(entry.request_body, label) or (entry.object_name if label == "userName" else None)
        taken = (
            f"Another member already uses this {label}: {value}."
            if value
            else f"Another member already uses this {label}."
        )
        return (
            f"{taken} Give the user a unique {label} in {provider}, or change the member who has it under "
            f"Organization > Member and Department."
        )
    if entry.scim_type == "invalidValue" and "username" in lowered and "email" in lowered:
        return f"In {provider} make the work email equal to the username: userName and the work email must be the same."
    if entry.scim_type in ("invalidValue", "invalidSyntax", "noTarget", "invalidPath"):
        return (
            f"{provider} sent a value this directory does not accept. "
            f"Correct the attribute named in the error in {provider}."
        )
    if entry.status_code == 404:
        return f"The object no longer exists in this directory. {provider} creates it again on its next sync."
    if entry.status_code == 412:
        return f"The object changed between two requests. {provider} retries with the current version."
    if entry.status_code >= 500:
        return f"A temporary error. {provider} retries on its next sync; if it keeps failing, contact support."
    return None


def request_json(entry: SyncLog) -> str | None:
    """The request body as indented JSON, or None when the request had none.

    The writer stores it redacted; redacting again keeps rows written before a
    redaction rule existed from showing a secret.
    """
    if not entry.request_body:
        return None
    return json.dumps(redact(entry.request_body), indent=2, ensure_ascii=False)
