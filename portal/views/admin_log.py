"""Compliance > Audit Log > Admin log: who changed what, filtered, with details and a CSV export.

Read-only by design: entries are written by the domain functions that make the
changes, and there is no route that edits or deletes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from sqlalchemy import Select

from portal.core import admin_log, sync_log_query
from portal.views.access import require
from portal.views.web import render

from ..models import Admin, AdminLog
from . import log_tools

bp = Blueprint("admin_log", __name__, url_prefix="/compliance/audit-log")

#: the seed: "End time (required; default the last 7 days; one query spans at most 180 days)"
DEFAULT_DAYS = 7
MAX_DAYS = 180
FILTER_NAMES = ("category", "event_type", "admin", "start", "end", "q")
CSV_HEADER = [
    "Time (UTC)",
    "Category",
    "Event type",
    "Administrator",
    "IP address",
    "Object type",
    "Object",
    "Summary",
    "Changes",
]


def _filters(admins: list[Admin]) -> tuple[Select[AdminLog] | None, dict[str, Any]]:
    """The filtered query (None when the time range is refused) and what the filter form shows."""
    args = request.args
    grouped = admin_log.event_types_by_category()
    categories = [c for c in args.getlist("category") if c in grouped]
    event_types = [e for e in args.getlist("event_type") if e in admin_log.EVENT_TYPES]
    chosen = list(dict.fromkeys(event_types + [e for c in categories for e in grouped[c]]))
    admin_ids = {str(a.id) for a in admins}
    admin_id = args.get("admin", "") if args.get("admin", "") in admin_ids else ""
    window = log_tools.time_range(args, required=True, default_days=DEFAULT_DAYS, max_days=MAX_DAYS)
    search = args.get("q", "").strip()[: log_tools.SEARCH_MAX]
    form: dict[str, Any] = {
        "grouped": grouped,
        "categories": categories,
        "event_types": event_types,
        "chosen": chosen,
        "admin_id": admin_id,
        "window": window,
        "search": search,
    }
    if window.errors:
        return None, form
    assert window.start is not None and window.end is not None
    stmt = admin_log.query(
        current_user.org_id,
        start=window.start,
        end=window.end,
        event_types=chosen or None,
        admin_id=int(admin_id) if admin_id else None,
        search=search or None,
    )
    return stmt, form


@bp.route("/admin")
@require("admin_log")
def index() -> Any:
    """The Admin log with its filters; htmx gets the filters and results panel only."""
    admins = admin_log.administrators(current_user.org_id)
    stmt, form = _filters(admins)
    window = form["window"]
    # Links carry the range actually queried, so a page or an export repeats this exact query.
    args = {**log_tools.filter_args(request.args, FILTER_NAMES), "start": window.start_text, "end": window.end_text}
    entries, pager = log_tools.page_of(stmt, "admin_log.index", **args) if stmt is not None else ([], None)
    return render(
        "admin_log/index.html",
        "admin_log/_panel.html",
        status=422 if stmt is None else 200,
        admins=admins,
        entries=entries,
        pager=pager,
        **form,
        export_url=url_for("admin_log.export", **args),
    )


@bp.route("/admin/<int:entry_id>")
@require("admin_log")
def detail(entry_id: int) -> Any:
    """One entry: who, when, from which IP, and the field-by-field change."""
    entry = admin_log.get_entry(current_user.org_id, entry_id)  # NotFound: the console's 404 page
    return render(
        "admin_log/detail.html", "admin_log/_drawer.html", entry=entry, changes=sync_log_query.labelled(entry.changes)
    )


def _changes_text(changes: dict[str, Any]) -> str:
    return "; ".join(
        f"{name}: {sync_log_query.shown_value(pair[0])} -> {sync_log_query.shown_value(pair[1])}"
        for name, pair in sync_log_query.labelled(changes).items()
    )


def _csv_rows(entries: Iterator[AdminLog]) -> Iterator[list[Any]]:
    for e in entries:
        yield [
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.category,
            e.event_type,
            e.actor,
            e.ip,
            e.target_type,
            e.target_name,
            e.summary,
            _changes_text(e.changes or {}),
        ]


@bp.route("/admin/export.csv")
@require("admin_log")
def export() -> Any:
    """The filtered entries as a CSV file, streamed; the same 180-day limit as the page."""
    stmt, form = _filters(admin_log.administrators(current_user.org_id))
    if stmt is None:
        abort(400)
    return log_tools.csv_response("admin-log.csv", CSV_HEADER, _csv_rows(log_tools.stream(stmt)))
