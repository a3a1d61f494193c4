"""The bare Flask reference app, through Flask's test client on SQLite."""

from __future__ import annotations

import pytest

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

from bench.reference.bare_flask import (
    create_app,  # noqa: E402
    seed,  # noqa: E402
)


@pytest.fixture
def client(tmp_path):
    url = f"sqlite:///{tmp_path / 'bare.sqlite3'}"
    assert seed(url, 50) == 50
    app = create_app(url)
    yield app.test_client()
    app.extensions["bench_engine"].dispose()


def test_echo_returns_the_json_body(client):
    body = {"userName": "a@acme.com", "emails": [{"value": "a@acme.com"}]}
    response = client.post("/echo", json=body)
    assert response.status_code == 200
    assert response.get_json() == body


def test_select_finds_seeded_rows_and_404s_others(client):
    assert client.get("/select", query_string={"u": "user50@acme.com"}).get_json()["u"] == "user50@acme.com"
    assert client.get("/select", query_string={"u": "user51@acme.com"}).status_code == 404


def test_insert_commits_unique_values_and_refuses_duplicates(client):
    assert client.post("/insert", json={"u": "new@acme.com"}).status_code == 201
    assert client.get("/select", query_string={"u": "new@acme.com"}).status_code == 200
    assert client.post("/insert", json={"u": "new@acme.com"}).status_code == 409
    assert client.post("/insert", json={"nope": 1}).status_code == 400


def test_sqlite_runs_in_wal_mode(client):
    engine = client.application.extensions["bench_engine"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
