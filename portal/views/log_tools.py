"""What the Sync log and the Admin log pages share: time range filters, SQL pagination, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import Select, func, select
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import utcnow
from .paging import Pager, page_number, pager

PER_PAGE = 25
#: the longest search kept from the query string: what a person types, and far below SQLite's LIKE
#: pattern limit (50,000 characters, past which the query fails)
SEARCH_MAX = 200
#: the value format of <input type="datetime-local"> (minutes), also accepted with seconds or as a date
TIME_FORMAT = "%Y-%m-%dT%H:%M"
#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class TimeRange:
    """A filter's time range: what the form shows, the bounds to query, and the messages per field."""

    start_text: str = ""
    end_text: str = ""
    start: datetime | None = None
    #: exclusive: the end minute itself is included
    end: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _parse(text: str) -> datetime:
    text = text.strip()
    parsed = datetime.fromisoformat(text)
    if len(text) == 10:  # a date alone means the whole day from midnight
        return parsed
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def time_range(
    args: MultiDict[str, str], *, required: bool, default_days: int | None = None, max_days: int | None = None
) -> TimeRange:
    """Read ``start`` and ``end`` from the query string.

    Absent parameters take the default (the last ``default_days`` days); present but
    empty ones are a message when ``required``. ``end`` covers its whole minute.
    """
    result = TimeRange()
    if default_days is not None and "start" not in args and "end" not in args:
        now = utcnow().replace(second=0, microsecond=0)
        args = MultiDict(
            {"start": (now - timedelta(days=default_days)).strftime(TIME_FORMAT), "end": now.strftime(TIME_FORMAT)}
        )
    for name, label in (("start", "Start time"), ("end", "End time")):
        text = args.get(name, "").strip()
        setattr(result, f"{name}_text", text)
        if not text:
            if required:
                result.errors[name] = f"Enter the {label.lower()}."
            continue
        try:
            setattr(result, name, _parse(text))
        except ValueError:
            result.errors[name] = f"Enter the {label.lower()} as a date and time, like 2026-01-31 09:00."
    if result.end is not None:
        step = timedelta(days=1) if len(result.end_text) == 10 else timedelta(minutes=1)
        # The last day a datetime holds (9999-12-31) has none after it: the range runs to the end of time.
        result.end = result.end + step if result.end <= datetime.max - step else datetime.max
    if result.start is not None and result.end is not None and not result.errors:
        if result.end <= result.start:
            result.errors["end"] = "The end time must be after the start time."
        elif max_days is not None and result.end - result.start > timedelta(days=max_days, minutes=1):
            result.errors["end"] = (
                f"One query can span at most {max_days} days. Move the start time or the end time closer together."
            )
    return result


def choice(args: MultiDict[str, str], name: str, allowed: Iterable[str]) -> str | None:
    """A single-choice filter value, or None for 'all' and for values that are not offered."""
    value = args.get(name, "").strip()
    return value if value in allowed else None


def page_of(stmt: Select[Any], endpoint: str, **args: Any) -> tuple[list[Any], Pager]:
    """The requested page of ``stmt`` and its pager; total and page are both computed in SQL.

    ``args`` are the link arguments of every page (the filters); a page past the end shows the last one.
    """
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = pager(endpoint, total, PER_PAGE, page_number(), **args)
    return list(db.session.scalars(stmt.limit(pages.per_page).offset(pages.offset))), pages


def filter_args(args: MultiDict[str, str], names: Iterable[str]) -> dict[str, list[str]]:
    """The non-empty filter parameters of the request, to carry into page and export links."""
    kept: dict[str, list[str]] = {}
    for name in names:
        values = [v for v in args.getlist(name) if v.strip()]
        if values:
            kept[name] = values
    return kept


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: formulas are neutralised with a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """Stream ``rows`` as a CSV download, a chunk at a time, so a long export never sits in memory."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # The byte order mark makes spreadsheet programs read the file as UTF-8.
        buffer.write("\ufeff")
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(cell) for cell in row])
            if buffer.tell() > 16384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def stream(stmt: Select[Any]) -> Iterator[Any]:
    """The rows of ``stmt`` fetched in batches, for exports."""
    yield from db.session.scalars(stmt.execution_options(yield_per=500))
