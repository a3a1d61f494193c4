"""The app's Huey instance, the wake-up after a commit that recorded outbox rows, and the queue's figures.

Storage, from ``JOBS_URL``:

- empty: a SQLite file, ``instance/jobs.db`` (one host, nothing to install);
- ``sqlite:///path/to/jobs.db``: a SQLite file elsewhere;
- ``redis://host:port/db``: Redis, shared by the web and worker processes of several hosts;
- ``memory://``: inside the process, for tests that run no worker.

The queue carries only wake-ups and periodic jobs. What must not be lost (an email) is a row
of the database's outbox, written in the transaction that caused it, so a queue that loses
a task, or a process that dies between its commit and the enqueue, delays a mail by at most
the periodic drain's minute.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.core import events, job_marks, outbox
from portal.infra.config import ConfigError
from portal.jobs import tasks
from portal.models import utcnow

log = logging.getLogger(__name__)

_EXTENSION = "portal.jobs"
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Jobs:
    """An app's queue and the tasks registered on it."""

    huey: Huey
    tasks: tasks.Tasks


def build(config: dict[str, Any] | Any, instance_path: str | Path) -> Huey:
    """A Huey instance for ``JOBS_URL`` (see the module's docstring); results are not kept."""
    url = config.get("JOBS_URL") or ""
    name = config.get("JOBS_NAME") or "portal"
    scheme = urlsplit(url).scheme
    if not url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(Path(instance_path) / "jobs.db"), results=False)
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ConfigError(f"JOBS_URL {url!r}: expected sqlite:///path/to/jobs.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, results=False)
    if scheme in {"redis", "rediss", "unix"}:
        import redis

        # Bounded waits: a request that wakes a worker after its commit never hangs on an unreachable Redis.
        # The worker's blocking read waits 1 s at a time, well within the socket timeout.
        pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return RedisHuey(name, connection_pool=pool, results=False)
    if scheme == "memory":
        return MemoryHuey(name, results=False)
    raise ConfigError(f"JOBS_URL {url!r}: use redis://..., sqlite:///path or leave it empty")


def jobs_for(app: Flask) -> Jobs:
    """The app's queue and tasks, built on first use (a web process that never enqueues never opens it)."""
    jobs: Jobs | None = app.extensions.get(_EXTENSION)
    if jobs is None:
        with _BUILD_LOCK:
            jobs = app.extensions.get(_EXTENSION)
            if jobs is None:
                huey = build(app.config, app.instance_path)
                jobs = Jobs(huey, tasks.register(huey, app))
                app.extensions[_EXTENSION] = jobs
    return jobs


def _current() -> Flask:
    # The app itself, not the proxy: tasks keep it and push its context in the worker's threads.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def huey_for(app: Flask | None = None) -> Huey:
    """The Huey instance of ``app`` (the current app by default)."""
    return jobs_for(app or _current()).huey


def enqueue_drain() -> None:
    """Ask a worker to deliver the outbox now (the periodic drain would, within a minute)."""
    jobs_for(_current()).tasks.drain()


def stats() -> dict[str, Any]:
    """The queue as operators watch it (read from any host).

    ``depth``: tasks waiting in the queue plus outbox messages due now; ``oldest_age_seconds``:
    how long the oldest due message has waited since it was queued (None when none is due);
    ``heartbeat_at``: the last worker heartbeat (naive UTC, None when no worker ever ran).
    """
    now = utcnow()
    due, oldest = outbox.due_stats(now)
    try:
        pending = int(huey_for().pending_count())
    except Exception:
        # The queue's storage is unreachable: the outbox still tells what waits.
        log.warning("could not read the job queue's length", exc_info=True)
        pending = 0
    return {
        "depth": pending + due,
        "oldest_age_seconds": (now - oldest).total_seconds() if oldest is not None else None,
        "heartbeat_at": job_marks.heartbeat_at(),
    }


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released; the real commit comes later
    if not session.info.pop(outbox.NEW_ROWS_KEY, False):
        return
    try:
        enqueue_drain()
    except Exception:
        # The rows are committed: the worker's periodic drain finds them. A request never fails on this.
        log.warning("could not wake a worker; the periodic drain will deliver the outbox", exc_info=True)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    # Only the whole transaction's rollback drops its rows; a savepoint's keeps the others.
    if previous_transaction.parent is None:
        session.info.pop(outbox.NEW_ROWS_KEY, None)


#: the shortest gap between two webhook wake-ups from one process: an initial sync commits hundreds of
#: times a second, and the delivery that runs picks up the events committed meanwhile
WEBHOOK_WAKE_INTERVAL = 0.5
_webhook_woken_at = [0.0]


def _wake_webhooks(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if not session.info.pop(events.WEBHOOKS_DUE_KEY, False):
        return
    now = time.monotonic()
    if now - _webhook_woken_at[0] < WEBHOOK_WAKE_INTERVAL:
        return
    _webhook_woken_at[0] = now
    try:
        jobs_for(_current()).tasks.deliver_webhooks()
    except Exception:
        # The events are committed: the worker's periodic run delivers them. A request never fails on this.
        log.warning("could not wake a worker; the periodic run will deliver the webhooks", exc_info=True)


def install_commit_hook() -> None:
    """Wake a worker after every commit that recorded outbox rows or webhook events (installed once per process)."""
    if not event.contains(Session, "after_commit", _wake_webhooks):
        event.listen(Session, "after_commit", _wake_webhooks)
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
