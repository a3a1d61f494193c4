"""The production shape: gunicorn with JSON logs carrying request ids, and a health check."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.servers import gunicorn

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]


def _get(url: str, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_healthz_answers_ok_when_the_database_answers(app, database_url, tmp_path):
    with gunicorn(database_url, tmp_path) as server:
        status, _, body = _get(f"{server.url}/healthz")
    assert status == 200
    # /healthz is /readyz's old name; no job worker runs here, so the worker is "stalled" (still 200).
    assert json.loads(body) == {"status": "degraded", "database": "ok", "migrations": "ok", "worker": "stalled"}


def test_access_and_app_logs_are_json_lines_with_the_request_id(app, database_url, tmp_path):
    with gunicorn(database_url, tmp_path) as server:
        status, headers, _ = _get(f"{server.url}/login", headers={"X-Request-ID": "req-abc-123"})
        assert status == 200 and headers["X-Request-ID"] == "req-abc-123"
        _get(f"{server.url}/login?q=%22quoted%22", headers={"User-Agent": 'agent "with" quotes'})
    lines = [line for line in server.logs().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r.get("logger") == "gunicorn.access"]
    assert any(r["request_id"] == "req-abc-123" and r["path"] == "/login" and r["status"] == 200 for r in access)
    assert any(r["user_agent"] == 'agent "with" quotes' for r in access)
    assert any(r.get("logger") == "gunicorn.error" for r in records)


def test_healthz_answers_503_when_the_database_is_unreachable(database_url, tmp_path):
    from portal import create_app

    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
