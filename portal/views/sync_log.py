"""Settings > Directory Sync > Sync log: a sync source's SCIM operations, their details, and a CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from portal.core import sync_log_query, sync_sources
from portal.core.sync_log_query import OBJECT_TYPES, OPERATIONS, RESULTS, SyncLogFilters
from portal.views.access import require
from portal.views.web import render

from ..models import SyncLog
from . import log_tools
from .paging import Pager

bp = Blueprint("sync_log", __name__, url_prefix="/settings/directory-sync/<int:source_id>/sync-log")

FILTER_NAMES = ("operation", "result", "object_type", "start", "end", "q")
CSV_HEADER = [
    "Time (UTC)",
    "Operation",
    "Object type",
    "Object",
    "Object ID",
    "Result",
    "HTTP status",
    "SCIM error type",
    "Message",
    "Duration (ms)",
    "Request ID",
    "Repeats",
    "Last repeat (UTC)",
]


def _filters() -> tuple[SyncLogFilters, log_tools.TimeRange]:
    args = request.args
    window = log_tools.time_range(args, required=False)
    filters = SyncLogFilters(
        operation=log_tools.choice(args, "operation", OPERATIONS),
        result=log_tools.choice(args, "result", RESULTS),
        object_type=log_tools.choice(args, "object_type", OBJECT_TYPES),
        start=window.start,
        end=window.end,
        search=args.get("q", "").strip()[: log_tools.SEARCH_MAX] or None,
    )
    return filters, window


@bp.route("")
@require("org_data_sync")
def index(source_id: int) -> Any:
    """The Sync log table with its filters; htmx gets the filters and results panel only."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    filters, window = _filters()
    # link arguments: typed Any, as url_for's own keywords (_anchor...) are never among them
    kept: dict[str, Any] = log_tools.filter_args(request.args, FILTER_NAMES)
    entries: list[SyncLog] = []
    pager: Pager | None = None
    if not window.errors:
        entries, pager = log_tools.page_of(
            sync_log_query.query(source.org_id, source.id, filters), "sync_log.index", source_id=source.id, **kept
        )
    return render(
        "sync_log/index.html",
        "sync_log/_panel.html",
        status=422 if window.errors else 200,
        source=source,
        filters=filters,
        window=window,
        entries=entries,
        pager=pager,
        operations=OPERATIONS,
        labels=sync_log_query.OPERATION_LABELS,
        operation_label=sync_log_query.operation_label,
        results=RESULTS,
        object_types=OBJECT_TYPES,
        message=sync_log_query.message,
        export_url=url_for("sync_log.export", source_id=source.id, **kept),
        filtered=bool(kept),
    )


@bp.route("/<int:log_id>")
@require("org_data_sync")
def detail(source_id: int, log_id: int) -> Any:
    """One entry: changed fields, associated objects, error with a hint, duration and redacted request."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    entry = sync_log_query.get_entry(source.org_id, source.id, log_id)
    return render(
        "sync_log/detail.html",
        "sync_log/_drawer.html",
        source=source,
        entry=entry,
        associated_labels=sync_log_query.ASSOCIATED_LABELS,
        changes=sync_log_query.labelled(entry.changes),
        hint=sync_log_query.hint(entry, source.provider_label),
        request_json=sync_log_query.request_json(entry),
    )


def _csv_rows(entries: Iterator[SyncLog]) -> Iterator[list[Any]]:
    for e in entries:
        yield [
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.operation,
            e.object_type,
            e.object_name,
            e.object_id,
            e.result,
            e.status_code,
            e.scim_type,
            sync_log_query.message(e),
            e.duration_ms,
            e.request_id,
            e.repeat_count,
            e.last_seen_at.strftime("%Y-%m-%d %H:%M:%S") if e.last_seen_at else None,
        ]


@bp.route("/export.csv")
@require("org_data_sync")
def export(source_id: int) -> Any:
    """The filtered rows as a CSV file, streamed."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    filters, window = _filters()
    if window.errors:
        abort(400)
    stmt = sync_log_query.query(source.org_id, source.id, filters)
    return log_tools.csv_response(f"sync-log-{source.id}.csv", CSV_HEADER, _csv_rows(log_tools.stream(stmt)))
