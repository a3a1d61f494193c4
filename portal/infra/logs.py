"""Structured logs: one JSON object a line, each carrying the request id of the request it belongs to."""

from __future__ import annotations

import logging
import sys

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` to every record: the current request's, or "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def json_formatter() -> logging.Formatter:
    """The JSON formatter shared by the app's and gunicorn's loggers."""
    return JsonFormatter(LOG_FORMAT, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})


def configure(level: str = "INFO") -> None:
    """Send the root logger to stderr as JSON lines with request ids."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def access_record(status: str | int, environ: dict, request_time_us: int, response_headers: list) -> dict:
    """The fields of one JSON access log line (never the Authorization header)."""
    headers = {k.lower(): v for k, v in response_headers}
    return {
        "logger": "gunicorn.access",
        "level": "INFO",
        "remote": environ.get("REMOTE_ADDR"),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": int(str(status).split()[0]),
        "duration_ms": round(request_time_us / 1000, 2),
        "request_id": headers.get("x-request-id", "-"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }
