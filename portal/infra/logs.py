"""Structured logs: one JSON object a line, each carrying the request id of the request it belongs to."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` to every record: the current request's, or "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


#: (job id, task name) of the job this thread runs, set by the worker (portal.jobs) while a task runs
_current_job: ContextVar[tuple[str, str] | None] = ContextVar("portal_current_job", default=None)


def bind_job(job_id: str, task: str) -> None:
    """Tag this thread's log records with the job it now runs (until ``unbind_job``)."""
    _current_job.set((job_id, task))


def unbind_job() -> None:
    """The job is over: this thread's records carry no job any more."""
    _current_job.set(None)


class JobFilter(logging.Filter):
    """Add ``job_id`` and ``task`` to the records emitted while a worker runs a job (nothing otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = _current_job.get()
        if job is not None and not getattr(record, "job_id", None):
            record.job_id, record.task = job
        return True


class SecretPathFilter(logging.Filter):
    """Replace a set-password token in any record's message (Flask logs "Exception on <path>").

    A record made to hand a link to the operator (no mail server) says so with ``shows_secret``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "shows_secret", False):
            return True
        message = record.getMessage()
        if "/set-password/" in message:
            record.msg, record.args = redact_path(message), None
        return True


def json_formatter() -> logging.Formatter:
    """The JSON formatter shared by the app's and gunicorn's loggers."""
    return JsonFormatter(LOG_FORMAT, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})


def configure(level: str = "INFO") -> None:
    """Send the root logger to stderr as JSON lines with request ids (and, in the job worker, job ids)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(JobFilter())
    handler.addFilter(SecretPathFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


#: a path segment that is itself a secret: the token of a set-password link (``/account/set-password/<token>``)
_SECRET_SEGMENT = re.compile(r"(/set-password/)[^/\s?#]+")
REDACTED = "[redacted]"


def redact_path(path: str | None) -> str | None:
    """The path with the secret segments replaced by ``[redacted]``: access logs are kept and shipped widely."""
    return _SECRET_SEGMENT.sub(rf"\g<1>{REDACTED}", path) if path else path


def access_record(status: str | int, environ: dict, request_time_us: int, response_headers: list) -> dict:
    """The fields of one JSON access log line (never the Authorization header nor a set-password token)."""
    headers = {k.lower(): v for k, v in response_headers}
    return {
        "logger": "gunicorn.access",
        "level": "INFO",
        "remote": environ.get("REMOTE_ADDR"),
        "method": environ.get("REQUEST_METHOD"),
        "path": redact_path(environ.get("PATH_INFO")),
        "status": int(str(status).split()[0]),
        "duration_ms": round(request_time_us / 1000, 2),
        "request_id": headers.get("x-request-id", "-"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }
