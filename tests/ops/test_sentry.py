"""Optional Sentry (issue 14): with SENTRY_DSN errors are reported; without it sentry_sdk is not even imported.

The reporting tests run the app in a child process: sentry_sdk.init changes process-wide state.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from portal import create_app
from portal.infra.config import ConfigError
from portal.infra.sentry import MISSING_PACKAGE

ROOT = Path(__file__).resolve().parents[2]


def _child(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    environment |= {"SECRET_KEY": "test-secret-key", "DATABASE_URL": "sqlite://", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_sentry_dsn_sentry_sdk_is_not_imported():
    result = _child(
        """
        import sys
        from portal import create_app
        app = create_app({"TESTING": True})
        app.test_client().get("/livez")
        print("loaded" if "sentry_sdk" in sys.modules else "not loaded")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "not loaded"


def test_sentry_dsn_without_the_package_is_a_clear_start_error(monkeypatch, database_url):
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # what a missing package looks like to `import`
    with pytest.raises(ConfigError) as error:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SENTRY_DSN": "http://k@127.0.0.1:9/1"})
    assert str(error.value) == MISSING_PACKAGE
    assert "pip install -e '.[sentry]'" in MISSING_PACKAGE


class _Sentry(BaseHTTPRequestHandler):
    """Just enough of Sentry's ingest API: keeps each envelope's items."""

    items: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for line in body.splitlines()[1:]:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                self.items.append(item)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Sentry.items = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://public@127.0.0.1:{server.server_port}/1", _Sentry.items
    server.shutdown()
    thread.join(5)


def test_with_sentry_dsn_a_web_error_is_reported_without_secrets(sentry_server):
    dsn, items = sentry_server
    result = _child(
        """
        import sentry_sdk
        from portal import create_app

        app = create_app({"TESTING": False, "PROPAGATE_EXCEPTIONS": False, "WTF_CSRF_ENABLED": False})

        def boom():
            user_name = "hunter2-never-sent"  # a local variable (a token, a password ...): reports carry none
            raise RuntimeError("the boom view failed")

        app.add_url_rule("/boom", "boom", boom, methods=["POST"])
        response = app.test_client().post(
            "/boom", data="secret-body-never-sent", headers={"Authorization": "Bearer token-never-sent"}
        )
        print(response.status_code)
        sentry_sdk.flush(10)
        """,
        env={"SENTRY_DSN": dsn},
    )
    assert result.returncode == 0, result.stderr
    events = [item for item in items if item.get("exception")]
    assert events, (result.stdout, result.stderr, items)
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["exception"]["values"][-1]["value"] == "the boom view failed"
    assert event["tags"]["component"] == "web"
    assert event["request"]["url"].endswith("/boom")  # the request is described, its secrets are not
    raw = json.dumps(event)
    for secret in ("hunter2-never-sent", "secret-body-never-sent", "token-never-sent"):
        assert secret not in raw


def test_the_worker_reports_with_its_own_tag_and_the_huey_integration(sentry_server):
    dsn, items = sentry_server
    result = _child(
        """
        import sentry_sdk
        from portal.infra.sentry import init_sentry

        assert init_sentry({"SENTRY_DSN": sys_dsn}, component="worker")
        assert "huey" in sentry_sdk.get_client().integrations
        try:
            raise ValueError("a job failed")
        except ValueError:
            sentry_sdk.capture_exception()
        sentry_sdk.flush(10)
        """.replace("sys_dsn", repr(dsn))
    )
    assert result.returncode == 0, result.stderr
    events = [item for item in items if item.get("exception")]
    assert events and events[0]["tags"]["component"] == "worker"
