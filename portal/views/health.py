"""Probes and metrics for load balancers, orchestrators and Prometheus.

- ``/livez``: the process answers (no database): restart it when this fails.
- ``/readyz``: the database takes a write (in a transaction rolled back) and its Alembic revision
  is the head of migrations/: send it traffic only when this answers 200. ``/healthz`` is the same
  check under its old name, for the load balancers configured with it.
- ``/metrics``: Prometheus text, for METRICS_ALLOW addresses or the METRICS_TOKEN bearer (404 otherwise).

A stalled worker (no heartbeat for ``WORKER_STALLED_AFTER``) makes ``/readyz`` say
``"status": "degraded", "worker": "stalled"`` but still answer 200: the web serves sign-ins and
SCIM requests without the worker, and emails wait in the outbox until a worker comes back.
Taking every web process out of the load balancer for it would turn a mail delay into an outage.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.engine import Connection

from portal.core import token_expiry
from portal.infra import metrics
from portal.models import utcnow

from ..extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

#: a worker whose last heartbeat is older than this is reported stalled
WORKER_STALLED_AFTER = timedelta(minutes=2)


@functools.cache
def _script_revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """The heads and every revision of the migrations in ``directory``, read once per process."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(directory)
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def _migration_state(revisions: set[str] | None) -> str:
    """``ok`` at head; ``behind``, ``unknown revision`` (newer than this code) or ``missing`` otherwise."""
    if not revisions:
        return "missing"
    heads, known = _script_revisions(str(current_app.extensions["migrate"].directory))
    if revisions == heads:
        return "ok"
    return "behind" if revisions <= known else "unknown revision"


def _try_write(conn: Connection) -> None:
    """Write in a transaction that is rolled back: an UPDATE of no row still needs the write lock.

    SQLite takes its write lock (and the write queue's) for the statement and refuses it on a
    read-only file; PostgreSQL refuses it on a read-only server or transaction. alembic_version
    is tiny and no request writes it.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
    conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


def _database_checks() -> dict[str, str]:
    """``database`` and ``migrations``, each ``ok`` or what is wrong."""
    try:
        conn = db.engine.connect()
    except Exception:  # whatever the driver raises, the database cannot be reached
        log.exception("readiness: database unreachable")
        return {"database": "unreachable", "migrations": "unknown"}
    with conn:
        try:
            with conn.begin():
                revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        except Exception:  # no alembic_version table: never migrated
            log.exception("readiness: no migration revision")
            return {"database": "unknown", "migrations": "missing"}
        transaction = conn.begin()
        try:
            _try_write(conn)
            database = "ok"
        except Exception:  # read-only file or server, disk trouble, a lock held too long
            log.exception("readiness: the database refuses a write")
            database = "refuses writes"
        finally:
            transaction.rollback()
    return {"database": database, "migrations": _migration_state(revisions)}


def _worker_state(now: datetime) -> str:
    """``ok`` with a heartbeat in the last two minutes, ``stalled`` without, ``unknown`` when unreadable."""
    try:
        from portal.jobs import queue

        beat = queue.stats().get("heartbeat_at")
    except Exception:  # the queue's storage is unreachable: say so, readiness does not hang on it
        log.warning("readiness: could not read the worker heartbeat", exc_info=True)
        return "unknown"
    if beat is None:
        return "stalled"
    if beat.tzinfo is not None:
        beat = beat.astimezone(UTC).replace(tzinfo=None)
    return "ok" if now - beat <= WORKER_STALLED_AFTER else "stalled"


@bp.route("/livez")
@limiter.exempt
def livez() -> Any:
    """200 while the process answers; reads nothing."""
    return jsonify(status="ok")


@bp.route("/readyz")
@bp.route("/healthz")
@limiter.exempt
def readyz() -> Any:
    """200 when the database takes a write and is migrated to head (a stalled worker: "degraded"); else 503."""
    checks = _database_checks()
    if checks["database"] == "ok":
        checks["worker"] = _worker_state(utcnow())
    else:
        checks["worker"] = "unknown"
    ready = checks["database"] == "ok" and checks["migrations"] == "ok"
    status = "unavailable" if not ready else "ok" if checks["worker"] == "ok" else "degraded"
    return jsonify(status=status, **checks), 200 if ready else 503


@bp.route("/metrics")
@limiter.exempt
def metrics_view() -> Any:
    """The Prometheus metrics, for METRICS_ALLOW addresses or the METRICS_TOKEN bearer; 404 for anyone else."""
    if not metrics.allowed(
        current_app.config,
        current_app.extensions["metrics_allow"],
        request.remote_addr,
        request.headers.get("Authorization"),
    ):
        abort(404)
    snapshot = metrics.Snapshot(now=utcnow())
    try:
        from portal.jobs import queue

        snapshot.queue = queue.stats()
    except Exception:  # the scrape still answers with what it has
        log.warning("metrics: could not read the job queue", exc_info=True)
        db.session.rollback()
    try:
        snapshot.token_expiry = token_expiry.seconds_until_expiry(snapshot.now)
    except Exception:
        log.warning("metrics: could not read the sync sources' tokens", exc_info=True)
        db.session.rollback()
    return Response(metrics.render(snapshot), content_type=metrics.CONTENT_TYPE)
