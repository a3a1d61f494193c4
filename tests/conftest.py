"""Fixtures shared by the whole suite.

Databases: SQLite always; PostgreSQL too when ``TEST_DATABASE_URL`` is set, for
tests that ask for it with ``pytestmark = pytest.mark.both_databases``. Each test
session migrates a database of its own (a temporary SQLite file, a temporary
PostgreSQL database) with Alembic, and every test starts from empty tables, so
servers started in other processes see the same data as the test.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import jinja2
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from tests.factories import OrgData, make_admin, make_org  # noqa: F401  (re-exported for tests)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run on SQLite and, when configured, on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if metafunc.definition.get_closest_marker("both_databases") and TEST_DATABASE_URL:
            backends.append("postgresql")
        metafunc.parametrize("backend", backends, scope="session")


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"databases: sqlite{' + postgresql' if TEST_DATABASE_URL else ' only (TEST_DATABASE_URL not set)'}"]
    if not os.path.exists(CHROMIUM):
        lines.append("*** chromium not found: browser tests will be SKIPPED ***")
    return lines


@pytest.fixture(scope="session")
def _sqlite_url() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="portal-test-")
    yield f"sqlite:///{folder}/test.db"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def _postgresql_url() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    # One database per test session, so parallel runs on one server never meet.
    base = make_url(TEST_DATABASE_URL)
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _config(url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-key",
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "",
        "SERVER_NAME": None,
        # Wake-ups go to a queue inside the test process; tests/jobs runs real workers on real storage.
        "JOBS_URL": "memory://",
    }


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, backend: str) -> str:
    """A migrated database of the session for ``backend``."""
    url = request.getfixturevalue(f"_{backend}_url")
    from flask_migrate import upgrade

    app = create_app(_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # Children first; self-references are checked at the end of each statement.
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture
def app(database_url: str) -> Iterator[Any]:
    """The application on an empty, migrated database."""
    app = create_app(_config(database_url))
    # A variable a template uses but its view did not pass fails the test instead of printing "".
    app.jinja_env.undefined = jinja2.StrictUndefined
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


# ---------------------------------------------------------------- data


@pytest.fixture
def org(app: Any) -> OrgData:
    return make_org(app)


# ---------------------------------------------------------------- console client

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


class Console:
    """A test client signed in to the console, adding the CSRF token to every write."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.token: str | None = None

    def _remember_token(self, html: str) -> None:
        match = CSRF_RE.search(html)
        if match:
            self.token = match.group(1) or match.group(2)

    def login(self, email: str, password: str) -> Any:
        self._remember_token(self.client.get("/login").get_data(as_text=True))
        response = self.client.post("/login", data={"email": email, "password": password, "csrf_token": self.token})
        self._remember_token(self.client.get("/login").get_data(as_text=True) if response.status_code != 302 else "")
        return response

    def get(self, url: str, htmx: bool = False, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        response = self.client.get(url, headers=headers, **kwargs)
        if response.mimetype == "text/html":
            self._remember_token(response.get_data(as_text=True))
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, htmx: bool = False, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, headers=headers, **kwargs)


@pytest.fixture
def console(client: Any, org: OrgData) -> Console:
    """The primary administrator of ``org``, signed in."""
    c = Console(client)
    assert c.login(org.email, org.password).status_code == 302
    return c


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium instead of a downloaded browser (none can be downloaded here)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"chromium not found at {CHROMIUM}: browser test SKIPPED")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


class LiveServer:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The app served from a thread on 127.0.0.1 and a free port."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(5)
