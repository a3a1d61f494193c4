"""Every request on the SCIM blueprint: rate limit, bearer authentication, size, errors, media type, logging.

Order per request: the per-token rate limit (flask-limiter, before any other
database work: a refused request costs a source lookup and one folded write),
then the bearer token (RFC 7644 §2; 401 with
``WWW-Authenticate: Bearer``; a refused token counts against the budget of its source
URL and client address, 429 once spent, and a valid one never does), the source's
state (403 until Save and Activate),
then the body size (413). A request refused at a source's URL (401, 403, 429) is
logged by the domain (``sync_sources.refuse``: one row per source, reason and minute,
with a repeat count). After authentication every failure response leaves one
sync log row, written in a fresh transaction after the request's own changes
were rolled back, and a refused write notifies the administrators chosen for
sync failures; every response records the source's last request and status.
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import Response, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_limiter import RequestLimit
from flask_limiter.errors import RateLimitExceeded
from limits import parse as parse_limit
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, default_exceptions

from portal.core import notifications, sync_log, sync_sources
from portal.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, PreconditionFailed
from portal.core.sync_sources import AuthFailure
from portal.extensions import db, limiter
from portal.infra import db_errors

from .blueprint import bp
from .errors import SCIM_MEDIA_TYPE, ScimError, scim_error, storable

log = logging.getLogger(__name__)

#: a body larger than this is refused with 413 (also the app's MAX_CONTENT_LENGTH)
MAX_BODY = 1024 * 1024
_AUTH_DETAILS = {
    "missing": "Authentication required: send Authorization: Bearer <token>",
    "invalid": "The bearer token is not valid for this sync source",
    "expired": "The bearer token has expired; refresh it in the console",
}
#: domain error -> (HTTP status, scimType) (RFC 7644 §3.12)
_DOMAIN_STATUS: dict[type[DomainError], tuple[int, str | None]] = {
    Invalid: (400, "invalidValue"),
    Conflict: (409, "uniqueness"),
    NotFound: (404, None),
    PreconditionFailed: (412, None),
    Forbidden: (403, None),
}


def _token_key() -> str:
    """The rate limit key: a hash of the bearer token (the token itself is never kept), else the address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "scim:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]
    return "scim-anon:" + (request.remote_addr or "")


def _limited(reason: str, detail: str, retry_after: int) -> Response:
    """The 429 answer; at a source's URL the refusal is logged first (``sync_sources.refuse``).

    Committed here: the per-token limit is checked before ``authenticate``, and the error
    handler that answers rolls back. The answer stands even when that bookkeeping fails.
    """
    public_id = (request.view_args or {}).get("source_id")
    try:
        source = sync_sources.source_for_url(public_id) if public_id else None
        if source is not None and not source.is_deleted:
            sync_sources.refuse(source, reason, detail, request_info(), scim_type="tooMany")
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("Could not log the rate-limited SCIM request")
    return scim_error(429, detail, "tooMany", headers={"Retry-After": str(max(1, retry_after))})


def _on_breach(limit: RequestLimit) -> Response:
    return _limited("rate_limited", f"Too many requests: the limit is {limit.limit}", int(limit.reset_at - time.time()))


limiter.shared_limit(
    lambda: current_app.config["SCIM_RATE_LIMIT"], scope="scim", key_func=_token_key, on_breach=_on_breach
)(bp)


def _refusals_key(public_id: str) -> str:
    """The refused tokens' budget: per source URL and client address. Identity providers of many
    organizations share egress addresses, so one organization's bad tokens never spend another's."""
    return f"scim-refused:{public_id}:{request.remote_addr or ''}"


def _refusals_spent(public_id: str) -> int | None:
    """Count one refused token against its source and address; the seconds to wait once the budget is spent.

    Each wrong token would get a budget of its own under the per-token limit, and every refusal
    costs a write and a notification: past ``SCIM_AUTH_FAILURE_LIMIT`` refusals the answer is 429.
    Only a refusal is counted or answered so, after the token was checked: a token valid for
    the source always gets through, however many bad ones came from its address (issue 12 item 3).
    """
    if not (limiter.enabled and limiter.initialized):
        return None
    item = parse_limit(current_app.config["SCIM_AUTH_FAILURE_LIMIT"])
    key = _refusals_key(public_id)
    try:
        if limiter.limiter.hit(item, key):
            return None
        reset_at = limiter.limiter.get_window_stats(item, key).reset_time
    except Exception:  # the limit's storage is down: the refusal still stands, as a 401
        log.exception("Could not count a refused SCIM token")
        return None
    return int(reset_at - time.time())


def request_info() -> sync_log.RequestInfo:
    """What the sync log keeps about this request (the body parsed by the view, when there is one)."""
    return sync_log.RequestInfo(
        request_id=g.get("request_id"),
        method=request.method,
        path=request.path.replace("\x00", "\ufffd"),  # "/Users/%00": PostgreSQL stores no NUL
        body=g.get("scim_body"),
        started=g.get("scim_started", time.perf_counter()),
    )


@bp.before_request
def authenticate() -> Response | None:
    """Authenticate the bearer token against the source named in the URL and set ``g.source``."""
    g.scim_started = time.perf_counter()
    public_id = (request.view_args or {}).get("source_id", "")
    if not storable(public_id):  # no source has such an id, and PostgreSQL would refuse to look it up
        raise ScimError(404, "No such sync source")
    try:
        source = sync_sources.authenticate(public_id, request.headers.get("Authorization"))
    except AuthFailure as exc:
        assert exc.source is not None
        g.refused_source_id = exc.source.id  # the source of a refused request, for /metrics
        retry_after = _refusals_spent(public_id)
        if retry_after is not None:
            limit = current_app.config["SCIM_AUTH_FAILURE_LIMIT"]
            detail = f"Too many requests with a refused token from this address to this source: the limit is {limit}"
            return _limited("refusals_limited", detail, retry_after)
        sync_sources.refuse(exc.source, exc.reason, _AUTH_DETAILS[exc.reason], request_info())
        db.session.commit()
        return scim_error(401, _AUTH_DETAILS[exc.reason], headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})
    except Forbidden as exc:
        inactive = sync_sources.source_for_url(public_id)
        if inactive is not None:
            g.refused_source_id = inactive.id
            sync_sources.refuse(inactive, "inactive", exc.message, request_info())
            db.session.commit()
        return scim_error(403, exc.message)
    g.source = source
    g.source_ids = (source.id, source.org_id)
    if (request.content_length or 0) > MAX_BODY:
        raise ScimError(413, f"The request body is larger than {MAX_BODY} bytes")
    return None


def _error_parts(exc: Exception) -> tuple[int, str, str | None, dict[str, str]]:
    if isinstance(exc, ScimError):
        return exc.status, exc.detail, exc.scim_type, exc.headers
    if isinstance(exc, DomainError):
        status, scim_type = _DOMAIN_STATUS.get(type(exc), (400, "invalidValue"))
        return status, exc.message, scim_type, {}
    if isinstance(exc, StaleDataError):
        return 412, "The resource changed while this request was running; read it again", None, {}
    if db_errors.is_busy(exc):  # a lock held past the wait: the IdP sends the request again (RFC 7231 §7.1.3)
        return 503, db_errors.BUSY_DETAIL, None, {"Retry-After": str(db_errors.RETRY_AFTER_SECONDS)}
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        scim_type = "invalidSyntax" if status == 400 else None
        return status, exc.description or exc.name, scim_type, {}
    log.exception("SCIM request failed", exc_info=exc)
    return 500, "Internal error; the request changed nothing", None, {}


def to_scim_error(exc: Exception) -> Response:
    """Every exception on the blueprint becomes a SCIM error document; the request's changes are rolled back."""
    db.session.rollback()
    # flask-limiter builds its response with Flask; werkzeug types HTTPException.response sans-IO.
    if isinstance(exc, RateLimitExceeded) and isinstance(exc.response, Response):
        return exc.response
    status, detail, scim_type, headers = _error_parts(exc)
    return scim_error(status, detail, scim_type, headers)


# By class for everything, and by status code too: Flask prefers the app's handlers
# for a code (the console's error pages) over a blueprint's handler for a class.
bp.register_error_handler(Exception, to_scim_error)
for _code in default_exceptions:
    bp.register_error_handler(_code, to_scim_error)

#: the URLs this door answers, its views or not (an unknown path, a wrong method)
URL_PREFIX = "/scim/"


@bp.record_once
def _register_error_renderer(state: BlueprintSetupState) -> None:
    # Flask gives the errors of URLs no view matches to the app's handlers only; the app
    # factory routes those under URL_PREFIX here, so they are SCIM error documents too.
    state.app.extensions.setdefault("error_renderers", []).append((URL_PREFIX, to_scim_error))


def _failure_detail(response: Response) -> tuple[str | None, str | None]:
    body = response.get_json(silent=True) if response.is_json or response.mimetype == SCIM_MEDIA_TYPE else None
    if not isinstance(body, dict):
        return None, None
    return body.get("detail"), body.get("scimType")


@bp.after_request
def finish(response: Response) -> Response:
    """SCIM media type on every response; the source's last request; a sync log row for a refused one."""
    if not (response.content_type or "").startswith(SCIM_MEDIA_TYPE):  # setting it re-parses the header
        response.mimetype = SCIM_MEDIA_TYPE
    ids: tuple[int, int] | None = g.get("source_ids")
    if ids is None:
        return response
    try:
        detail = None
        if response.status_code >= 400:
            detail, scim_type = _failure_detail(response)
            db.session.rollback()
            object_type, object_id, object_name = g.get("scim_object", (None, None, None))
            sync_log.record(
                ids[0],
                ids[1],
                request_info(),
                operation=g.get("scim_operation", "request"),
                result="failure",
                status_code=response.status_code,
                object_type=object_type,
                object_id=object_id,
                object_name=object_name,
                scim_type=scim_type,
                error_detail=detail,
            )
            if request.method != "GET" or response.status_code >= 500:
                # A refused write is a sync failure the chosen administrators hear about (folded per hour).
                notifications.sync_failure(
                    sync_sources.load_source(g.source), scim_type or f"HTTP {response.status_code}", detail
                )
        sync_sources.note_request(ids[0], response.status_code, detail)
        if db.session().in_transaction():
            db.session.commit()
    except Exception:  # the answer stands even when its bookkeeping fails
        db.session.rollback()
        log.exception("Could not record the SCIM request on its source")
    return response
