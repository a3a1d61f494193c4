"""What every console response shares: page-or-fragment rendering, headers, error pages, request ids."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, Request, Response, g, make_response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user

from portal.core.actors import Actor
from portal.extensions import htmx

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'"
)


def wants_fragment() -> bool:
    """True for an htmx request that swaps a part of the page (not boosted, not a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(page: str, fragment: str | None = None, *, status: int = 200, **context: Any) -> Response:
    """Render the whole ``page``, or only ``fragment`` when htmx asks for a part of it."""
    template = fragment if fragment is not None and wants_fragment() else page
    return make_response(render_template(template, **context), status)


def current_actor() -> Actor:
    """The signed-in administrator as the author of a change, with the client address."""
    return Actor.for_admin(current_user._get_current_object(), ip=request.remote_addr)


def _request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex


def _headers(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if not request.path.startswith("/scim/"):
        response.vary.add("HX-Request")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _error_page(status: int, title: str, text: str) -> Any:
    def handler(error: Exception) -> Any:
        if request.path.startswith("/scim/"):
            from scim_blueprint.errors import scim_error

            return scim_error(status, text)
        return render("errors/error.html", status=status, code=status, title=title, text=text)

    return handler


class ConsoleSessions(SecureCookieSessionInterface):
    """The console's signed-cookie sessions; SCIM requests get none (a bearer token is their only credential).

    Opening a session builds its signing serializer on every request: work the SCIM
    door, which answers most of the requests, never needs.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/scim/"):
            return self.null_session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Install request ids, security headers, console sessions and the error pages."""
    app.session_interface = ConsoleSessions()
    app.before_request(_request_id)
    app.after_request(_headers)
    app.register_error_handler(403, _error_page(403, "No access", "You do not have permission to open this page."))
    app.register_error_handler(404, _error_page(404, "Page not found", "There is nothing at this address."))
    app.register_error_handler(405, _error_page(405, "Method not allowed", "This address does not accept that method."))
    app.register_error_handler(413, _error_page(413, "Request too large", "The request body is larger than 1 MiB."))
    app.register_error_handler(429, _error_page(429, "Too many requests", "Too many attempts. Wait a minute and try again."))
    app.register_error_handler(500, _error_page(500, "Something went wrong", "The error was logged. Please try again."))
