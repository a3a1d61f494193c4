"""Every request of the read API: the per-key rate limit, the bearer key, its scopes, the response headers.

Order per request: flask-limiter's per-key limit (its key function authenticates the key first,
once per request, so the limit counts per key id; a refused key counts against its client
address), then the key itself (401 ``unauthorized`` with ``WWW-Authenticate: Bearer``), then the
view's scope (403 ``forbidden``). A key only ever reads its own organization: every query takes
``g.api_org_id``, the key's organization, and nothing from the request names an organization.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from flask_limiter import RequestLimit

from portal.core import api_keys
from portal.core.api_keys import ApiKeyRefused
from portal.extensions import db, limiter
from portal.models import ApiKey, utcnow

from .errors import ApiError, error_response

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: the endpoints anyone may read without a key
PUBLIC_ENDPOINTS = {"api.openapi_json"}
_REFUSALS = {
    "missing": "Authentication required: send Authorization: Bearer <API key>",
    "invalid": "The API key is not valid",
    "expired": "The API key has expired; create another in Settings > API keys",
    "revoked": "The API key was revoked",
}


def _authenticated() -> ApiKey | ApiKeyRefused:
    """The request's key, or why it is refused: looked up once per request (the limit's key needs it first)."""
    if "api_auth" not in g:
        try:
            g.api_auth = api_keys.authenticate(request.headers.get("Authorization"), utcnow())
        except ApiKeyRefused as exc:
            g.api_auth = exc
    auth: ApiKey | ApiKeyRefused = g.api_auth
    return auth


def rate_key() -> str:
    """The rate limit's key: the API key's id, else (no key, a refused one) the client address."""
    auth = _authenticated()
    if isinstance(auth, ApiKey):
        return f"api-key:{auth.id}"
    return f"api-anon:{request.remote_addr or ''}"


def _on_breach(limit: RequestLimit) -> Response:
    retry_after = max(1, int(limit.reset_at - time.time()))
    return error_response(
        429, "rate_limited", f"Too many requests: the limit is {limit.limit}", {"Retry-After": str(retry_after)}
    )


def install(blp: Any) -> None:
    """Put the per-key limit, the authentication and the response headers on the API's blueprint."""
    limiter.shared_limit(
        lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=rate_key, on_breach=_on_breach
    )(blp)
    blp.before_request(authenticate)
    blp.after_request(_headers)


def authenticate() -> None:
    """Refuse a request without a valid key (401); remember the key's organization and scopes."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    auth = _authenticated()
    if isinstance(auth, ApiKeyRefused):
        raise ApiError(401, "unauthorized", _REFUSALS[auth.reason], {"WWW-Authenticate": 'Bearer realm="api"'})
    # Plain values: the commit below expires the row, and the views need no more of it.
    g.api_org_id, g.api_scopes, key_id = auth.org_id, frozenset(auth.scopes), auth.id
    try:
        if api_keys.note_used(key_id, utcnow()):
            db.session.commit()
    except Exception:  # the read is answered even when its bookkeeping fails
        db.session.rollback()
        log.exception("Could not record the use of API key %s", key_id)


def scoped(*scopes: str) -> Callable[[F], F]:
    """The view needs every one of ``scopes`` (``members:read`` ...) on the key; else 403 ``forbidden``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            missing = [scope for scope in scopes if scope not in g.api_scopes]
            if missing:
                raise ApiError(403, "forbidden", f"The API key does not have the scope {missing[0]}")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def _headers(response: Response) -> Response:
    # A response depends on the key; one with an ETag may be kept by the client and revalidated.
    response.vary.add("Authorization")
    response.headers.setdefault("Cache-Control", "private, no-cache" if response.get_etag()[0] else "no-store")
    return response
