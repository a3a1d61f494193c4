"""/livez, /readyz (and /healthz, its old name): issue 12 "Operating under faults" and issue 14."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from portal.models import utcnow

pytestmark = pytest.mark.both_databases

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


@pytest.fixture
def heartbeat(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set what ``portal.jobs.queue.stats()`` says about the worker's last heartbeat."""
    from portal.jobs import queue

    state: dict[str, Any] = {"heartbeat_at": utcnow()}

    def stats() -> dict[str, Any]:
        if isinstance(state["heartbeat_at"], Exception):
            raise state["heartbeat_at"]
        return {"depth": 0, "oldest_age_seconds": None, "heartbeat_at": state["heartbeat_at"]}

    monkeypatch.setattr(queue, "stats", stats)
    return state


def _read_only_app(database_url: str, backend: str) -> Any:
    """The app on the test database, opened so that it can read but not write."""
    config: dict[str, Any] = {"TESTING": True, "SECRET_KEY": "test-secret-key", "RATELIMIT_ENABLED": False}
    if backend == "sqlite":
        path = make_url(database_url).database
        config |= {"SQLALCHEMY_DATABASE_URI": f"sqlite:///file:{path}?mode=ro&uri=true", "SQLITE_WRITE_QUEUE": False}
    else:
        config |= {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c default_transaction_read_only=on"}},
        }
    return create_app(config)


def test_readyz_is_ok_with_a_writable_migrated_database_and_a_live_worker(client, heartbeat):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "migrations": "ok", "worker": "ok"}


def test_healthz_is_readyz_under_its_old_name(client, heartbeat):
    assert client.get("/healthz").get_json() == client.get("/readyz").get_json()


def test_livez_answers_without_a_database():
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE})
    response = broken.test_client().get("/livez")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable():
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "unreachable",
        "migrations": "unknown",
        "worker": "unknown",
    }


def test_a_read_only_database_is_not_ready_but_the_process_is_live(app, database_url, backend, heartbeat):
    """Issue 12: /healthz answered 200 on a read-only database while every write answered 500."""
    read_only = _read_only_app(database_url, backend)
    client = read_only.test_client()
    try:
        # It still reads (the old /healthz's SELECT 1 passed) ...
        with read_only.app_context():
            assert db.session.execute(text("SELECT 1")).scalar() == 1
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["database"] == "refuses writes"
        assert response.get_json()["status"] == "unavailable"
        assert client.get("/healthz").status_code == 503
        assert client.get("/livez").status_code == 200
    finally:
        with read_only.app_context():
            db.engine.dispose()


def _set_revision(app: Any, revision: str) -> None:
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db.session.commit()


@pytest.fixture
def head(app: Any) -> Any:
    """The database's revision (head), set back after the test changed it."""
    with app.app_context():
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    yield revision
    _set_revision(app, revision)


def test_migrations_behind_head_are_not_ready(app, client, head, heartbeat):
    _set_revision(app, "0004")  # an older revision, as before `flask db upgrade` ran
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "ok", "migrations": "behind", "worker": "ok"}


def test_a_revision_this_code_does_not_know_is_not_ready(app, client, head, heartbeat):
    _set_revision(app, "ffff_from_a_newer_release")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["migrations"] == "unknown revision"


def test_the_database_is_unchanged_by_the_write_probe(app, client, head, heartbeat):
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
    with app.app_context():
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]


@pytest.mark.parametrize("age", [timedelta(minutes=3), timedelta(days=2)])
def test_a_stalled_worker_is_degraded_but_still_ready(client, heartbeat, age):
    heartbeat["heartbeat_at"] = utcnow() - age
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "database": "ok", "migrations": "ok", "worker": "stalled"}


def test_a_heartbeat_within_two_minutes_is_ok(client, heartbeat):
    heartbeat["heartbeat_at"] = utcnow() - timedelta(seconds=100)
    assert client.get("/readyz").get_json()["worker"] == "ok"


def test_no_worker_ever_is_stalled(client, heartbeat):
    heartbeat["heartbeat_at"] = None
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["worker"] == "stalled"


def test_an_unreadable_queue_is_unknown_and_degraded(client, heartbeat):
    heartbeat["heartbeat_at"] = ConnectionError("redis is down")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["worker"] == "unknown" and response.get_json()["status"] == "degraded"


def test_with_the_real_queue_a_fresh_heartbeat_is_ok(app, client):
    """The real ``stats()`` of portal.jobs.queue: a heartbeat written by the worker's job is seen."""
    from portal.core import job_marks

    app.config["JOBS_URL"] = "memory://"  # the queue's length is read too: no file under instance/
    with app.app_context():
        job_marks.beat()
        db.session.commit()
    assert client.get("/readyz").get_json()["worker"] == "ok"
