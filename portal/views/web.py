"""What every console response shares: page-or-fragment rendering, headers, error pages, request ids."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Request, Response, current_app, g, make_response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.routing import IntegerConverter, Map, ValidationError

from portal.core.actors import Actor
from portal.core.errors import DomainError, NotFound
from portal.extensions import db, htmx
from portal.infra import db_errors

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


#: the largest id a row can have: PostgreSQL's INTEGER, the narrower of the two databases' id columns
MAX_ID = 2**31 - 1


def id_value(raw: str | None) -> int | None:
    """A row id from a query string or a form: digits up to ``MAX_ID``, else None (no row has it)."""
    if raw is None or not raw.isdigit() or not raw.isascii() or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


#: what a form's id past MAX_ID becomes: an id no row has (ids start at 1), so the domain answers as for
#: any unknown id (NotFound, or "choose one of this organization")
UNKNOWN_ID = -1


def form_id(raw: str | None) -> int | None:
    """A row id a form sent: None when it sent no number, ``UNKNOWN_ID`` for one past ``MAX_ID``."""
    if raw is None or not raw.isdigit():
        return None
    found = id_value(raw)
    return UNKNOWN_ID if found is None else found


def digits_up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers from 0 to ``limit`` and no other."""
    text = str(limit)
    options = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        if digit != "0":  # this many leading digits of the limit, a smaller one, then any
            options.append(f"{text[:i]}[0-{int(digit) - 1}][0-9]{{{len(text) - i - 1}}}")
    return "(?:" + "|".join([*options, text]) + ")"


class IdConverter(IntegerConverter):
    """``<int:...>`` bounded to the ids a row can have: a larger one is a 404, as an unknown id is.

    Without the bound PostgreSQL refuses the parameter ("integer out of range") and SQLite's
    driver cannot bind it; a thousands-digit number would not even parse (Python's int limit).
    The bound is in the pattern: refused later (``to_python``), a URL that a GET and a POST
    rule share would be a 405 for the other method rather than a 404.
    """

    regex = digits_up_to(MAX_ID)

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)

    def to_python(self, value: str) -> int:
        if id_value(value) is None:
            raise ValidationError()
        return int(super().to_python(value))


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
    # A form refused for several fields shows every message at once, each beside its field.
    several = getattr(exc, "errors", None)
    if field is None and isinstance(several, dict) and len(several) > 1:
        return dict(several)
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
    503: ("Busy", "The database is busy, and nothing was changed. Try again in a few seconds."),
}


def render_error(error: Exception) -> Response:
    """The console's error page for an HTTP error, the domain's ``NotFound`` (a 404), or a busy database (503).

    The app factory sends it every routed error under the console's URLs, after rolling the session back.
    """
    if db_errors.is_busy(error):
        status = 503
    else:
        status = 404 if isinstance(error, NotFound) else getattr(error, "code", None) or 500
    title, text = ERROR_PAGES.get(status, ERROR_PAGES[500])
    try:
        response = render("errors/error.html", status=status, code=status, title=title, text=text)
    except Exception:  # the page reads the signed-in admin: with the database gone, draw one that reads nothing
        log.exception("console: the error page failed; answering the bare one")
        _rollback()
        response = make_response(render_template("errors/bare.html", code=status, title=title, text=text), status)
    if status == 503:
        response.headers["Retry-After"] = str(db_errors.RETRY_AFTER_SECONDS)
    return response


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
    # Before any blueprint adds its routes: each <int:...> is built with the converter of its time.
    app.url_map.converters["int"] = IdConverter
    app.before_request(_request_id)
    app.after_request(_headers)
    app.after_request(_end_transaction)
    app.teardown_request(_rollback_on_exception)
    # Every URL no other door claims; the app factory routes errors by these prefixes.
    app.extensions.setdefault("error_renderers", []).append(("/", render_error))
