"""Settings from the environment (issue: foundation, point 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.infra.config import ConfigError, load_config


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        load_config(tmp_path)


@pytest.mark.parametrize("key", ["x" * 31, "test-secret-key", "é" * 15 + "x"])  # the last: 31 bytes in UTF-8
def test_production_refuses_to_start_with_a_secret_key_shorter_than_32_bytes_issue_12(monkeypatch, tmp_path, key):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match=r"SECRET_KEY is \d+ bytes long; PORTAL_ENV=production needs at least 32"):
        load_config(tmp_path)
    with pytest.raises(ConfigError):
        create_app({"TESTING": True})


@pytest.mark.parametrize("key", ["x" * 32, "é" * 16, "k" * 64])
def test_production_starts_with_a_secret_key_of_32_bytes_or_more_issue_12(monkeypatch, tmp_path, key):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    assert load_config(tmp_path)["SECRET_KEY"] == key


def test_development_accepts_a_short_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    monkeypatch.setenv("SECRET_KEY", "short")
    assert load_config(tmp_path)["SECRET_KEY"] == "short"


def test_development_creates_a_secret_key_once_and_reuses_it(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    assert len(first) >= 32
    assert load_config(tmp_path)["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_database_is_sqlite_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.db'}"


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app):
    from portal.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                pytest.skip("SQLite only")
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_proxy_hops_installs_proxyfix(monkeypatch, database_url):
    monkeypatch.setenv("PROXY_HOPS", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})

    @app.route("/_where")
    def where():
        from flask import request

        return f"{request.scheme} {request.host} {request.remote_addr}"

    body = (
        app.test_client()
        .get(
            "/_where",
            headers={
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "portal.example",
                "X-Forwarded-For": "203.0.113.9",
            },
        )
        .get_data(as_text=True)
    )
    assert body == "https portal.example 203.0.113.9"


def test_the_wsgi_entry_point_freezes_what_the_app_holds_out_of_full_collections(tmp_path):
    # Without gc.freeze() a full collection walked every object of the app: 30-40 ms pauses under load.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}", "SECRET_KEY": "x" * 32}
    completed = subprocess.run(
        [sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(completed.stdout.strip().splitlines()[-1]) > 10_000
