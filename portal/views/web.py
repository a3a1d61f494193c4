"""What every console response shares: page-or-fragment rendering, headers, error pages, request ids."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Request, Response, current_app, g, make_response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user

from portal.core.actors import Actor
from portal.core.errors import DomainError, NotFound
from portal.extensions import db, htmx

log = logging.getLogger(__name__)

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


def is_console(app: Flask, path: str) -> bool:
    """Whether the console answers ``path``: every URL no other door claims.

    Each door registers the URL prefix it answers with its error renderer in
    ``app.extensions["error_renderers"]`` (the SCIM door ``/scim/``); the console's
    own entry, ``/``, takes what the others leave.
    """
    return not any(
        path.startswith(prefix)
        for prefix, renderer in app.extensions.get("error_renderers", ())
        if renderer is not render_error
    )


def refusal(exc: DomainError, *, field: str | None = None, default: str = "form") -> dict[str, str]:
    """Discard what the request wrote before the domain refused it, and give the message for the form shown again.

    ``{key: message}``: the key is ``field`` when given (where the page shows the message), else the
    field the error names, else ``default``. The rollback comes first, so the form is drawn from the
    database as it was: on PostgreSQL a refused INSERT leaves the transaction unreadable, and after a
    failed flush the session refuses every query until it is rolled back. The view still answers 422:
    the request's end (``_end_transaction``) decides the transaction, and below 400 it would commit.
    """
    db.session.rollback()
    return {field or exc.field or default: exc.message}


def _end_transaction(response: Response) -> Response:
    """One commit per console request, here and nowhere else: below 400 it is kept, from 400 on rolled back.

    No console view commits, so none can forget to. Another door (SCIM) ends its own transactions.
    A commit that fails raises: Flask answers the 500 page and runs this again for it, rolling back.
    A streamed body (CSV export) reads after this commit, in a transaction of its own that writes nothing.
    """
    if is_console(current_app, request.path):
        if response.status_code < 400:
            db.session.commit()
        else:
            _rollback()
    return response


def _rollback_on_exception(error: BaseException | None) -> None:
    """An exception no handler turned into a response (tests propagate them): nothing of the request is kept."""
    if error is not None and is_console(current_app, request.path):
        _rollback()


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the answer is an error already (/healthz: 503 on a dead database); teardown drops the session
        log.exception("console: rolling back the request failed")


def _headers(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if is_console(current_app, request.path):
        response.vary.add("HX-Request")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


#: the console's error pages: status -> (title, text)
ERROR_PAGES = {
    403: ("No access", "You do not have permission to open this page."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that method."),
    413: ("Request too large", "The request body is larger than 1 MiB."),
    429: ("Too many requests", "Too many attempts. Wait a minute and try again."),
    500: ("Something went wrong", "The error was logged. Please try again."),
}


def render_error(error: Exception) -> Response:
    """The console's error page for an HTTP error, or for the domain's ``NotFound`` (a 404).

    The app factory sends it every routed error under the console's URLs.
    """
    status = 404 if isinstance(error, NotFound) else getattr(error, "code", None) or 500
    title, text = ERROR_PAGES.get(status, ERROR_PAGES[500])
    return render("errors/error.html", status=status, code=status, title=title, text=text)


class ConsoleSessions(SecureCookieSessionInterface):
    """The console's signed-cookie sessions; SCIM requests get none (a bearer token is their only credential).

    Opening a session builds its signing serializer on every request: work the SCIM
    door, which answers most of the requests, never needs.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not is_console(app, request.path):
            return self.null_session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Install request ids, security headers, console sessions, the request's transaction and the error pages."""
    app.session_interface = ConsoleSessions()
    app.before_request(_request_id)
    app.after_request(_headers)
    app.after_request(_end_transaction)
    app.teardown_request(_rollback_on_exception)
    # Every URL no other door claims; the app factory routes errors by these prefixes.
    app.extensions.setdefault("error_renderers", []).append(("/", render_error))
