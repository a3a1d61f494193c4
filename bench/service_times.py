"""The server's side of a request: service time, write-lock wait and hold, CPU, per operation.

wrk's latency at 8 connections on 2 sync workers is mostly time in gunicorn's
accept queue: it says that the tail is long, not why. ``bench/run.py
--service-times`` serves the app with these gunicorn hooks (loaded by
``bench/gunicorn_bench_conf.py`` when ``SERVICE_TIMES_DIR`` is set, so only
the app's server has them). They write one line per request to
``$SERVICE_TIMES_DIR/<pid>.txt``:

* the operation (from the method, and for a GET whether it filters), SCIM requests only;
* the service time, from gunicorn's parsed request to the response sent;
* the time the request waited for the SQLite write lock, and how long it held it
  (``portal.infra.sqlite_writes``; 0 on PostgreSQL);
* the CPU time of the worker's thread;
* the wall-clock time the request ended.

The checkpoint thread's runs go to ``checkpoints-<pid>.txt``: when each one
ended, how long it took (a PASSIVE copy, and a RESTART under the write lock
when the log had grown past its size), and the log's size before it. ``summarize()`` turns
the files into a table, printed after the app's rows. The warm-up's requests
are counted too.

This is how BENCHMARKS.md found that the log's restarts stalled both workers
("The write tail: the log's restart").
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

#: the environment variable naming the folder the hooks write to
DIRECTORY = "SERVICE_TIMES_DIR"


def _operation(method: str, query: str) -> str:
    if method == "GET":
        return "filter" if "filter=" in query else "get"
    return {"POST": "create", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def post_fork(server: Any, worker: Any) -> None:
    """Wrap the write queue and the checkpoint of the app's SQLite file to time them."""
    from portal.infra import sqlite_writes

    folder = os.environ[DIRECTORY]
    acquire, release, checkpoint = (
        sqlite_writes.WriteQueue.acquire,
        sqlite_writes.WriteQueue.release,
        sqlite_writes.WriteQueue._checkpoint,
    )

    def timed_acquire(queue: Any, info: dict[str, Any]) -> None:
        if info.get(sqlite_writes._HELD):
            return
        started = time.perf_counter()
        acquire(queue, info)
        info["bench_lock_taken"] = taken = time.perf_counter()
        worker.lock_wait += taken - started

    def timed_release(queue: Any, info: dict[str, Any]) -> None:
        taken = info.pop("bench_lock_taken", None)
        release(queue, info)
        if taken is not None:
            worker.lock_hold += time.perf_counter() - taken

    def timed_checkpoint(queue: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            size = os.path.getsize(f"{queue.database_path}-wal")
        except OSError:
            size = 0
        result = checkpoint(queue, *args)
        if result is not False:  # False: another worker's thread had the turn, and nothing was done
            with open(Path(folder) / f"checkpoints-{os.getpid()}.txt", "a") as out:
                out.write(f"{time.time():.4f} {(time.perf_counter() - started) * 1000:.3f} {size}\n")
        return result

    sqlite_writes.WriteQueue.acquire = timed_acquire  # type: ignore[method-assign]
    sqlite_writes.WriteQueue.release = timed_release  # type: ignore[method-assign]
    sqlite_writes.WriteQueue._checkpoint = timed_checkpoint  # type: ignore[method-assign]


def pre_request(worker: Any, req: Any) -> None:
    """Start the request's clocks."""
    worker.lock_wait = worker.lock_hold = 0.0
    req.bench_started = (time.perf_counter(), time.thread_time())


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """Write the request's line (SCIM requests only: not the runner's readiness probes)."""
    if "/scim/" not in (req.path or ""):
        return
    wall, cpu = req.bench_started
    out = getattr(worker, "bench_times", None)
    if out is None:
        out = worker.bench_times = open(Path(os.environ[DIRECTORY]) / f"{os.getpid()}.txt", "a")  # noqa: SIM115
    out.write(
        f"{_operation(req.method, req.query or '')} {(time.perf_counter() - wall) * 1000:.3f}"
        f" {worker.lock_wait * 1000:.3f} {worker.lock_hold * 1000:.3f}"
        f" {(time.thread_time() - cpu) * 1000:.3f} {time.time():.4f}\n"
    )


def worker_exit(server: Any, worker: Any) -> None:
    """Flush the worker's lines."""
    out = getattr(worker, "bench_times", None)
    if out is not None:
        out.close()


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def summarize(folder: Path, operations: list[str]) -> str:
    """The table of the requests and checkpoints written to ``folder``, in the order of ``operations``."""
    columns: dict[str, list[list[float]]] = {}
    for path in folder.glob("[0-9]*.txt"):
        for line in path.read_text().splitlines():
            name, *numbers = line.split()
            rows = columns.setdefault(name, [[], [], [], []])
            for column, value in zip(rows, numbers[:4], strict=True):
                column.append(float(value))
    lines = [
        "operation     requests  service p50    p90    p99   p999 ms  lock wait p99  lock hold p99  CPU p50   p99 ms",
        "-" * 106,
    ]
    for name in [*operations, *sorted(set(columns) - set(operations))]:
        if name not in columns:
            continue
        service, wait, hold, cpu = (sorted(column) for column in columns[name])
        lines.append(
            f"{name:12} {len(service):9}  {_quantile(service, 0.5):11.2f} {_quantile(service, 0.9):6.2f}"
            f" {_quantile(service, 0.99):6.2f} {_quantile(service, 0.999):7.2f}"
            f"  {_quantile(wait, 0.99):13.2f}  {_quantile(hold, 0.99):13.2f}"
            f"  {_quantile(cpu, 0.5):7.2f} {_quantile(cpu, 0.99):5.2f}"
        )
    checkpoints = [line.split() for path in folder.glob("checkpoints-*.txt") for line in path.read_text().splitlines()]
    if checkpoints:
        took = sorted(float(fields[1]) for fields in checkpoints)
        largest = max(int(fields[2]) for fields in checkpoints) / 2**20
        lines.append(
            f"\ncheckpoints: {len(took)}, median {_quantile(took, 0.5):.1f} ms, longest {took[-1]:.1f} ms;"
            f" the largest log before one: {largest:.0f} MiB"
        )
    return "\n".join(lines) + "\n"
