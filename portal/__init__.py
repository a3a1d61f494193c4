"""Directory Sync Portal: an organization directory with an admin console and a SCIM 2.0 receiver."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, NotFound as HTTPNotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.core.errors import NotFound
from portal.infra import db_errors, search_index, sqlite_writes
from portal.infra.config import load_config
from portal.infra.sentry import init_sentry

from .extensions import csrf, db, htmx, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger(__name__)

#: the errors a door answers in its own language: these statuses, the domain's NotFound (a 404), and a
#: database error, which is a 503 when the database was busy (``db_errors.is_busy``) and a 500 otherwise
ROUTED_ERRORS: tuple[int | type[Exception], ...] = (403, 404, 405, 413, 429, 500, NotFound, OperationalError)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # Only SQLite connections get here (the listener is attached per engine).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA mmap_size=268435456")
    # The search triggers make a member's INSERT, DELETE or renaming a statement journal of every index page it
    # changes (some 90 KiB); past 64 KiB SQLite put it in a new file of /var/tmp, made and unlinked inside the
    # write lock, at every create (tests/scim/test_sqlite_temp_files.py).
    cursor.execute("PRAGMA temp_store=MEMORY")
    # The writer that starts the log again cuts the file back only after a burst (sqlite_writes.WAL_KEPT_FACTOR).
    cursor.execute(f"PRAGMA journal_size_limit={sqlite_writes.WAL_KEPT_FACTOR * sqlite_writes.WAL_RESTART_BYTES}")
    cursor.close()


def _search_attacher(url: Any) -> Any:
    """The connect listener that attaches the database's search file (``search_index``)."""
    database = url.database if url.database and url.database != ":memory:" else None
    uri = str(url.query.get("uri", "")).lower() in ("true", "1")
    if database and uri:
        database = database.removeprefix("file:")
    read_only = uri and url.query.get("mode") == "ro"

    def attach(dbapi_connection: Any, connection_record: Any) -> None:
        search_index.attach(dbapi_connection, database, read_only)

    return attach


def _sqlite_savepoint(conn: Any, name: str) -> None:
    # pysqlite begins a transaction only before INSERT/UPDATE/DELETE; a SAVEPOINT sent
    # first would open one of its own that RELEASE commits, so a row made inside
    # "find or create" would outlive the rollback of a refused request. Begin for real.
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


class SizedBodies:
    """WSGI middleware: a body sent without a length (``Transfer-Encoding: chunked``) is read here first.

    Werkzeug reads such a body only up to ``MAX_CONTENT_LENGTH`` and stops there without an error, so
    a body over the limit reached the views cut short (a JSON or form error, 400). Read up to one byte
    past the limit, it gets the length a sized body has: over the limit, each door answers 413, as for
    a ``Content-Length`` over it. Only when the server ends the stream itself (``wsgi.input_terminated``,
    gunicorn's and Werkzeug's for chunked bodies): another stream could wait forever for more.
    """

    def __init__(self, app: Any, flask_app: Flask) -> None:
        self.app = app
        self.flask_app = flask_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        limit = self.flask_app.config.get("MAX_CONTENT_LENGTH")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if limit is not None and chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            stream, wanted, parts = environ["wsgi.input"], limit + 1, []
            while wanted > 0:
                part = stream.read(min(wanted, 65536))
                if not part:
                    break
                parts.append(part)
                wanted -= len(part)
            body = b"".join(parts)
            # Now a sized body: Werkzeug ignores a length beside "chunked".
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, start_response)


def _discard_transaction() -> None:
    """Roll the session back before an error is answered.

    A failed statement leaves the session refusing every query until it is rolled back (on PostgreSQL
    the whole transaction is aborted), and the error page reads the session (the signed-in admin): so
    the page itself failed, and gunicorn answered its bare 500, without the console's headers. When
    even the rollback fails (the connection is gone), the session is dropped: the next use opens another.
    """
    try:
        db.session.rollback()
    except Exception:
        log.exception("rolling back before answering an error failed; dropping the session")
        try:
            db.session.remove()
        except Exception:
            log.exception("dropping the session failed")


def route_error(error: Exception) -> Any:
    """Answer an error in the language of the door whose URL prefix the request falls under.

    Each door registers ``(prefix, renderer)`` in ``app.extensions["error_renderers"]`` when it is
    installed: the console ``/``, the SCIM door ``/scim/``; the longest prefix wins. Needed at the
    app level because Flask gives the errors of URLs no route matches (404, 405) to app handlers
    only; a door's own views may still answer their errors first (the SCIM blueprint does).
    """
    _discard_transaction()
    if isinstance(error, OperationalError):
        if not db_errors.is_busy(error):
            # Not busy (the database is gone, say): Flask's 500, logged with its traceback, which comes back here.
            raise error
        log.warning("the database was busy: answering 503 (%s)", error.orig)
    renderers = sorted(current_app.extensions.get("error_renderers", ()), key=lambda entry: len(entry[0]), reverse=True)
    for prefix, renderer in renderers:
        if request.path.startswith(prefix):
            return renderer(error)
    return error if isinstance(error, HTTPException) else HTTPNotFound()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, both blueprints, CLI and error pages."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    # Error reports when SENTRY_DSN is set (sentry_sdk is not imported otherwise).
    init_sentry(app.config, component="web")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    if app.config["PROXY_HOPS"] > 0:
        hops = app.config["PROXY_HOPS"]
        # Flask's documented way to add WSGI middleware; its types declare wsgi_app a method, not an attribute.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    # Flask's documented way to add WSGI middleware; its types declare wsgi_app a method, not an attribute.
    app.wsgi_app = SizedBodies(app.wsgi_app, app)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "connect", _search_attacher(engine.url))
            if engine.url.database and engine.url.database != ":memory:" and app.config["SQLITE_WRITE_QUEUE"]:
                queue = sqlite_writes.install(engine, engine.url.database)
                if search_index.catch_up not in queue.background:
                    queue.background.append(search_index.catch_up)
            event.listen(engine, "savepoint", _sqlite_savepoint)

    from portal import cli
    from portal.infra import logs, metrics
    from portal.views import access, web
    from scim_blueprint import bp as scim_bp

    from .views import register_views

    # The two doors: each installs its own error renderer for its URL prefix (route_error picks one).
    app.extensions.setdefault("error_renderers", [])
    access.init_app(app)
    web.init_app(app)
    metrics.init_app(app)  # counts every request, SCIM and console, as it ends
    register_views(app)
    app.register_blueprint(scim_bp)
    csrf.exempt(scim_bp)
    # The read API door (/api/v1/): API keys, its own error documents under /api/.
    from portal import api as read_api

    read_api.init_app(app)
    for error in ROUTED_ERRORS:
        app.register_error_handler(error, route_error)
    cli.init_app(app)
    # Background jobs: the wake-up after a commit that recorded outbox mail, and `flask worker`.
    from portal import jobs

    jobs.init_app(app)

    if not app.testing:
        logs.configure(app.config["LOG_LEVEL"])

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"request_path": request.path}

    return app
