"""Real gunicorn servers for tests: started on 127.0.0.1 and a free port, stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running gunicorn: its URL, its process, and where its logs go."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The pids of the master's worker processes."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]


@contextmanager
def gunicorn(
    database_url: str,
    tmp_path: Path,
    *,
    workers: int = 2,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[Server]:
    """Serve ``wsgi:app`` with gunicorn.conf.py on ``database_url``; yields a ``Server``."""
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "RATELIMIT_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        # The test's own queue file: never the checkout's instance/jobs.db.
        "JOBS_URL": f"sqlite:///{tmp_path / f'jobs-{port}.db'}",
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield Server(url, process, log_path)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
