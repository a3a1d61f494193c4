"""The read API's errors: one JSON document, ``{"error": {"code": ..., "message": ...}}``, for every failure.

``code`` is for programs, ``message`` for people. Every error under ``/api/`` gets it: the views'
own (401, 403, 404, 400), the parameter checks of flask-smorest (webargs' 422 becomes 400
``invalid_parameter``), the rate limit (429), URLs no view matches (404, 405), a busy database
(503) and anything unexpected (500, logged).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from portal.core.errors import NotFound
from portal.extensions import db
from portal.infra import db_errors

log = logging.getLogger(__name__)

#: HTTP status -> the error code of a failure that names none of its own
CODES = {
    400: "invalid_parameter",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_parameter",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """A failure a view answers on purpose: status, code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error document as a response."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _parameter_message(error: HTTPException) -> str:
    """webargs' messages ``{"query": {"limit": ["Must be ..."]}}`` as one line: ``limit: Must be ...``."""
    messages: Any = (getattr(error, "data", None) or {}).get("messages") or {}
    parts = []
    for fields in messages.values():
        for name, problems in (fields or {}).items():
            text = " ".join(problems) if isinstance(problems, list) else str(problems)
            parts.append(f"{name}: {text}")
    return "; ".join(parts) or "A parameter is not valid"


def render_api_error(error: Exception) -> Response:
    """Any exception under ``/api/`` as the error document; the request's changes are rolled back."""
    db.session.rollback()
    if isinstance(error, ApiError):
        return error_response(error.status, error.code, error.message, error.headers)
    if isinstance(error, RateLimitExceeded) and isinstance(error.response, Response):
        return error.response  # the on_breach answer, already an error document
    if isinstance(error, NotFound):
        return error_response(404, "not_found", error.message)
    if db_errors.is_busy(error):
        return error_response(
            503, "unavailable", db_errors.BUSY_DETAIL, {"Retry-After": str(db_errors.RETRY_AFTER_SECONDS)}
        )
    if isinstance(error, HTTPException):
        status = error.code or 500
        if status in (400, 422) and (getattr(error, "data", None) or {}).get("messages"):
            # flask-smorest's parameter checks (webargs): name the parameter and what is wrong with it
            return error_response(400, "invalid_parameter", _parameter_message(error))
        message = error.description or error.name
        if status == 404:
            message = "There is nothing at this address"
        return error_response(status, CODES.get(status, "error"), message)
    log.exception("read API request failed", exc_info=error)
    return error_response(500, "internal_error", "Internal error")
