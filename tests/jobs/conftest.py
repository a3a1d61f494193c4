"""Real worker processes (``flask --app wsgi worker``), queue storages and mail servers for the jobs tests.

The web side is the test's ``app`` (its requests go through the Flask test client); the worker
is a separate process on the same database and the same queue storage, exactly as in production.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import ROOT, free_port


@dataclass
class JobsStorage:
    """Where the web process and the worker meet: ``JOBS_URL`` and a Huey name of this test's own."""

    url: str
    name: str
    kind: str


def redis_reachable(url: str = "redis://127.0.0.1:6379/0") -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _storage(kind: str, tmp_path: Path) -> JobsStorage:
    name = f"portal-test-{uuid.uuid4().hex[:12]}"
    if kind == "redis":
        if not redis_reachable():
            pytest.skip("Redis is not reachable on 127.0.0.1:6379: the Redis queue storage is not tested")
        return JobsStorage("redis://127.0.0.1:6379/0", name, kind)
    return JobsStorage(f"sqlite:///{tmp_path / 'jobs.db'}", name, kind)


def use_storage(app: Any, storage: JobsStorage, **config: Any) -> None:
    """Point the web app at ``storage`` (and any other setting); its queue is built again on next use."""
    app.config.update(JOBS_URL=storage.url, JOBS_NAME=storage.name, **config)
    app.extensions.pop("portal.jobs", None)


@pytest.fixture
def sqlite_jobs(app: Any, tmp_path: Path) -> Iterator[JobsStorage]:
    """A SQLite queue file of the test's own, used by the web app."""
    storage = _storage("sqlite", tmp_path)
    use_storage(app, storage)
    yield storage


@pytest.fixture(params=["sqlite", "redis"])
def any_jobs(request: pytest.FixtureRequest, app: Any, tmp_path: Path) -> Iterator[JobsStorage]:
    """Each queue storage in turn (Redis skipped cleanly when unreachable), used by the web app."""
    storage = _storage(request.param, tmp_path)
    use_storage(app, storage)
    yield storage
    if storage.kind == "redis":
        from portal.jobs import queue

        queue.huey_for(app).flush()  # this test's keys only (its own Huey name)


class Worker:
    """A running ``flask --app wsgi worker`` and its log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def worker(
    database_url: str,
    tmp_path: Path,
    storage: JobsStorage,
    *,
    env: dict[str, str] | None = None,
    threads: int = 2,
) -> Iterator[Worker]:
    """A worker process on the test's database and queue; SIGTERM at the end (running jobs are cut)."""
    log_path = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SMTP_", "MAIL_", "JOBS_"))}
    environment.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "JOBS_URL": storage.url,
            "JOBS_NAME": storage.name,
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--workers", str(threads)],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Huey consumer started" in log_path.read_text(errors="replace"), what="the worker to start")
        yield Worker(process, log_path)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def wait_for(condition: Callable[[], Any], *, what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it is truthy (returned); fail after ``timeout`` s, a bound on a hang only."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------- mail servers


class Inbox:
    """An aiosmtpd handler: answers DATA with the scripted replies first (e.g. 451), then 250.

    ``gate``, when set up, holds the reply to the try with that number (1-based) until released,
    so a test can look at the state between two tries without racing the worker.
    """

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies = list(replies or [])
        self.tries = 0
        self.messages: list[tuple[list[str], Any, bytes]] = []
        self.gate: tuple[int, threading.Event] | None = None
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tries += 1
        number = self.tries
        if self.gate is not None and self.gate[0] == number:
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate[1].wait, 30)
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content), envelope.content))
        return "250 OK"


@contextmanager
def smtp_server(handler: Inbox) -> Iterator[str]:
    """An aiosmtpd server on a free port; yields its SMTP_URL."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@contextmanager
def silent_smtp_server() -> Iterator[str]:
    """A server that accepts TCP connections and never says a word (no greeting); yields its SMTP_URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # the kernel completes each handshake; nobody ever answers
    try:
        yield f"smtp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
