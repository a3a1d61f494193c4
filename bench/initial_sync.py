"""An identity provider's initial push: for each user, a lookup by userName, then a create.

JumpCloud (and Okta) provision a new application this way: ``GET
/Users?filter=userName eq "..."`` and, when it finds nobody, ``POST /Users``.
``initial_sync()`` does that for users ``first..first+count-1`` over
``concurrency`` keep-alive connections on loopback (one thread each, users
dealt round-robin), and returns the wall time and the status counts.

Bounded: it stops at ``deadline`` seconds even if users are left (then
``finished`` is False), so a slow server cannot hold the bench forever.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from bench.loadgen import ensure_loopback
from bench.scim_payloads import jumpcloud_user


@dataclass
class SyncResult:
    """What the initial push measured."""

    users: int
    created: int
    seconds: float
    finished: bool
    status: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def users_per_second(self) -> float:
        """Users pushed (lookup + create) per second."""
        return self.created / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the JSON output."""
        return {
            "users": self.users,
            "created": self.created,
            "seconds": self.seconds,
            "finished": self.finished,
            "users_per_second": self.users_per_second,
            "status": self.status,
            "latency_ms": self.latency_ms,
        }


def initial_sync_wrk(
    base_url: str,
    scim_base: str,
    token: str,
    count: int,
    first: int = 1,
    concurrency: int = 8,
    deadline: float = 900.0,
    username_format: str = "sync%d@acme.com",
) -> SyncResult:
    """The same push driven by wrk (``bench/lua/scim_initial_sync.lua``): one wrk thread, ``concurrency`` connections.

    The Python loader above costs about half a millisecond of CPU per user on the
    same two cores as the server; wrk a fraction of that. wrk runs for a fixed
    time, so the script writes a file at the last create's answer: the push is
    timed from wrk's start to that file, then wrk is stopped with SIGINT (it
    prints its summary and the script's counters as usual).
    """
    import os
    import signal
    import subprocess
    import tempfile
    import uuid
    from pathlib import Path

    from bench.loadgen import LoadSettings, build_result, parse_output, resolve_script, wrk_command

    ensure_loopback(base_url)
    settings = LoadSettings(connections=concurrency, threads=1, duration=int(deadline), timeout=30)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as scratch:
        done = Path(scratch) / "done"
        env = {
            **os.environ,
            "SCIM_BASE": scim_base,
            "SCIM_TOKEN": token,
            "SYNC_FIRST": str(first),
            "SYNC_COUNT": str(count),
            "USERNAME_FORMAT": username_format,
            "SYNC_DONE_FILE": str(done),
            "BENCH_THREADS": "1",
            "BENCH_RUN_ID": uuid.uuid4().hex[:10],
        }
        command = wrk_command(base_url, resolve_script("scim_initial_sync.lua"), settings)
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not done.exists() and process.poll() is None and time.monotonic() - started < deadline:
            time.sleep(0.01)
        seconds = time.monotonic() - started
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    if "BENCHJSON" not in stdout:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.strip() or stdout.strip()}")
    result = build_result(parse_output(stdout))
    created = result.counters.get("created", 0)
    status = {f"{'create' if code == '201' else 'lookup'} {code}": n for code, n in sorted(result.status.items())}
    for counter in ("found", "idle"):
        if result.counters.get(counter):
            status[f"lookup {counter}"] = result.counters[counter]
    return SyncResult(
        users=count,
        created=created,
        seconds=seconds,
        finished=created == count,
        status=status,
        latency_ms={"p50": result.p50_ms, "p99": result.p99_ms},
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * fraction))]


def initial_sync(
    base_url: str,
    scim_base: str,
    token: str,
    count: int,
    first: int = 1,
    concurrency: int = 8,
    deadline: float = 900.0,
    username_format: str = "sync{n}@acme.com",
) -> SyncResult:
    """Push ``count`` users as an identity provider's first sync does; see the module docstring."""
    ensure_loopback(base_url)
    parts = urlsplit(base_url)
    headers = {
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
        "Authorization": f"Bearer {token}",
    }
    users_path = scim_base.rstrip("/") + "/Users"
    started = time.monotonic()
    stop_at = started + deadline
    lock = threading.Lock()
    status: Counter[str] = Counter()
    created = 0
    latencies: list[float] = []

    def worker(index: int) -> None:
        nonlocal created
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        local: Counter[str] = Counter()
        local_created = 0
        local_latency: list[float] = []
        try:
            for n in range(first + index, first + count, concurrency):
                if time.monotonic() > stop_at:
                    break
                user = jumpcloud_user(n, username_format)
                t0 = time.perf_counter()
                query = quote(f'userName eq "{user["userName"]}"')
                connection.request("GET", f"{users_path}?filter={query}", headers=headers)
                response = connection.getresponse()
                body = response.read()
                local[f"lookup {response.status}"] += 1
                if response.status == 200 and json.loads(body).get("totalResults") == 0:
                    connection.request("POST", users_path, json.dumps(user), headers)
                    response = connection.getresponse()
                    response.read()
                    local[f"create {response.status}"] += 1
                    local_created += response.status == 201
                local_latency.append((time.perf_counter() - t0) * 1000)
        finally:
            connection.close()
            with lock:
                status.update(local)
                created += local_created
                latencies.extend(local_latency)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline + 60)
    seconds = time.monotonic() - started
    return SyncResult(
        users=count,
        created=created,
        seconds=seconds,
        finished=created == count,
        status=dict(sorted(status.items())),
        latency_ms={"p50": _percentile(latencies, 0.5), "p99": _percentile(latencies, 0.99)},
    )
