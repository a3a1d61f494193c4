"""Start servers under gunicorn, seed them, load them with wrk, print a table.

A *target* is everything needed to measure one server:

* ``command(ctx)``: the argv that serves it on ``ctx.host:ctx.port``
  (``gunicorn_command()`` builds the usual one);
* ``setup(ctx)``: runs before the server starts (create a database, ...)
  and returns extra environment for the server process;
* ``seed(ctx)``: runs once the server answers ``ready_path`` and returns the
  environment every operation's Lua script gets (SCIM_BASE, IDS_FILE, ...);
* ``operations``: Lua script + environment + a ``kind`` that says which
  rows of other targets it compares with (``lookup``, ``create``, ...).

``run_targets()`` runs each target in turn with the same ``LoadSettings`` and
returns one result row per operation; ``format_table()`` prints them grouped
by kind, with req/s relative to the ceiling target when it has the same kind.
A future ``make bench`` adds the app as one more ``Target`` next to
``reference_targets()`` (see bench/run_references.py).

Servers listen on 127.0.0.1 only, every wrk run is bounded by the duration,
and each server is stopped (its own process group) even when a step fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.loadgen import LoadgenError, LoadSettings, run_wrk

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_GUNICORN_CONFIG = Path(__file__).resolve().parent / "gunicorn_bench_conf.py"
CEILING_TARGET = "bare-flask"


class BenchError(RuntimeError):
    """A target could not be started, seeded or measured."""


@dataclass
class ServerContext:
    """What a target's hooks know about the server being measured."""

    name: str
    host: str
    port: int
    workers: int
    workdir: Path
    """Scratch folder of this target (databases, ids files, logs)."""
    duration: int
    """Seconds per operation, so seeds can size the ids a delete consumes."""
    token: str
    """Bearer token the target should accept and the scripts send."""
    options: dict[str, Any] = field(default_factory=dict)
    """Free-form per-run options from the CLI (database URL, seed sizes)."""

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self.host}:{self.port}"


@dataclass
class Operation:
    """One measured load: a Lua script and its extra environment."""

    name: str
    kind: str
    """Comparison group across targets: echo, lookup, create, patch, get, put, delete."""
    script: str
    env: dict[str, str] = field(default_factory=dict)
    warmup: bool = True
    """Run the script unmeasured first; off for scripts that consume their ids (delete)."""


@dataclass
class Target:
    """A server to measure; see the module docstring."""

    name: str
    command: Callable[[ServerContext], list[str]]
    operations: list[Operation]
    ready_path: str = "/"
    setup: Callable[[ServerContext], dict[str, str]] | None = None
    seed: Callable[[ServerContext], dict[str, str]] | None = None
    ready_timeout: Callable[[ServerContext], float] | float = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def gunicorn_command(
    app: str,
    ctx: ServerContext,
    extra: list[str] | None = None,
    config: Path | None = None,
) -> list[str]:
    """Return the gunicorn argv serving ``app`` (``module:callable``) for ``ctx``.

    gunicorn runs from the interpreter running the bench, so it sees the same
    packages. ``config`` defaults to bench/gunicorn_bench_conf.py (sync
    workers, no access log); pass the app's gunicorn.conf.py to measure it
    as deployed. Workers, bind and logging flags override either file.
    """
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(config or BENCH_GUNICORN_CONFIG),
        "--workers",
        str(ctx.workers),
        "--bind",
        f"{ctx.host}:{ctx.port}",
        "--chdir",
        str(REPO_ROOT),
        "--error-logfile",
        "-",
        "--log-level",
        "warning",
    ]
    if _gunicorn_has_setting("control_socket_disable"):
        # gunicorn >= 25 opens ~/.gunicorn/gunicorn.ctl by default; two
        # servers (or another engineer's) would fight over that one path.
        command.append("--no-control-socket")
    return [*command, *(extra or []), app]


def _gunicorn_has_setting(name: str) -> bool:
    """Tell whether the installed gunicorn knows a setting."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any(setting.name == name for setting in KNOWN_SETTINGS)


@dataclass
class RunningServer:
    """A started server process and where its output goes."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start_server(target: Target, ctx: ServerContext, env: dict[str, str]) -> RunningServer:
    """Start the target's command in its own process group, logging to the workdir."""
    log_path = ctx.workdir / f"{ctx.name}.log"
    process_env = dict(os.environ)
    process_env.update(env)
    # The server imports bench.* from the repository root.
    process_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), process_env.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            target.command(ctx),
            cwd=REPO_ROOT,
            env=process_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return RunningServer(process, log_path)


def wait_ready(server: RunningServer, url: str, timeout: float) -> None:
    """Poll ``url`` until it answers below 500; fail if the server exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"server exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            # A 401/404 still proves the server is up and routing.
            if exc.code < 500:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    raise BenchError(f"server not ready after {timeout:.0f}s at {url}:\n{server.log_tail()}")


def stop_server(server: RunningServer, grace: float = 10.0) -> None:
    """Stop the server: SIGTERM to its master, then SIGKILL to its process group."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The group is the one start_new_session made for this server only; it
    # catches workers that outlived their master.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


@contextlib.contextmanager
def serving(target: Target, ctx: ServerContext) -> Iterator[RunningServer]:
    """Run setup, start the server, wait until ready; always stop it afterwards."""
    env = target.setup(ctx) if target.setup else {}
    server = start_server(target, ctx, env)
    try:
        timeout = target.ready_timeout(ctx) if callable(target.ready_timeout) else target.ready_timeout
        wait_ready(server, ctx.base_url + target.ready_path, timeout)
        yield server
    finally:
        stop_server(server)


def run_target(
    target: Target,
    settings: LoadSettings,
    workers: int = 2,
    workdir: Path | None = None,
    options: dict[str, Any] | None = None,
    only: set[str] | None = None,
    log: Callable[[str], None] = print,
    warmup: int = 1,
) -> list[dict[str, Any]]:
    """Measure every operation of one target; return one row per operation.

    ``only`` keeps the operations with these names. Each operation first runs
    ``warmup`` unmeasured seconds (lazy caches, first-request costs), unless
    it opts out. A failing operation gives a row with ``error`` set; a server
    that does not start fails every row.
    """
    operations = [op for op in target.operations if only is None or op.name in only]
    if not operations:
        return []
    own_workdir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{target.name}-")) if own_workdir else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = ServerContext(
        name=target.name,
        host="127.0.0.1",
        port=free_port(),
        workers=workers,
        workdir=workdir,
        duration=settings.duration,
        token=secrets.token_urlsafe(24),
        options=dict(options or {}),
    )
    rows: list[dict[str, Any]] = []
    try:
        log(f"[{target.name}] starting on {ctx.base_url} with {workers} workers")
        with serving(target, ctx):
            load_env = target.seed(ctx) if target.seed else {}
            for op in operations:
                log(f"[{target.name}] {op.name}: {settings.duration}s, {settings.connections} connections")
                env = {**load_env, **op.env}
                row: dict[str, Any] = {"target": target.name, "operation": op.name, "kind": op.kind}
                try:
                    if warmup > 0 and op.warmup:
                        run_wrk(ctx.base_url, op.script, env, replace(settings, duration=warmup))
                    row.update(run_wrk(ctx.base_url, op.script, env, settings).as_dict())
                except LoadgenError as exc:
                    row["error"] = str(exc)
                rows.append(row)
    except Exception as exc:  # noqa: BLE001 - one broken target must not hide the others' figures
        done = {row["operation"] for row in rows}
        rows.extend(
            {"target": target.name, "operation": op.name, "kind": op.kind, "error": str(exc)}
            for op in operations
            if op.name not in done
        )
    finally:
        if own_workdir and not (options or {}).get("keep_workdir"):
            shutil.rmtree(workdir, ignore_errors=True)
    return rows


def run_targets(
    targets: list[Target],
    settings: LoadSettings,
    workers: int = 2,
    options: dict[str, Any] | None = None,
    only: set[str] | None = None,
    log: Callable[[str], None] = print,
    warmup: int = 1,
) -> list[dict[str, Any]]:
    """Run several targets one after the other (never concurrently: 2 cores)."""
    rows: list[dict[str, Any]] = []
    for target in targets:
        rows.extend(run_target(target, settings, workers, None, options, only, log, warmup))
    return rows


def ratios(rows: list[dict[str, Any]], baseline: str = CEILING_TARGET) -> dict[tuple[str, str], float]:
    """Return {(target, operation): rps / baseline rps} for rows whose kind the baseline has."""
    base = {row["kind"]: row["rps"] for row in rows if row["target"] == baseline and row.get("rps")}
    return {
        (row["target"], row["operation"]): row["rps"] / base[row["kind"]]
        for row in rows
        if row.get("rps") is not None and base.get(row["kind"])
    }


def format_table(rows: list[dict[str, Any]], baseline: str = CEILING_TARGET) -> str:
    """Render rows as one table per kind: req/s, p50, p99, errors, and x baseline."""
    relative = ratios(rows, baseline)
    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    header = (
        f"{'target':<14} {'operation':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}  {'vs ' + baseline:>14}"
    )
    out: list[str] = []
    for kind in kinds:
        out.append(f"== {kind}")
        out.append(header)
        out.append("-" * len(header))
        for row in (r for r in rows if r["kind"] == kind):
            if "error" in row:
                out.append(f"{row['target']:<14} {row['operation']:<10} FAILED: {row['error'].splitlines()[0]}")
                continue
            ratio = relative.get((row["target"], row["operation"]))
            ratio_text = f"{ratio:.2f}x" if ratio is not None else "-"
            out.append(
                f"{row['target']:<14} {row['operation']:<10} {row['rps']:>9.1f} {row['p50_ms']:>8.2f} "
                f"{row['p99_ms']:>8.2f} {row['errors']:>7}  {ratio_text:>14}"
            )
            notes = _row_notes(row)
            if notes:
                out.append(f"{'':<25} {notes}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _row_notes(row: dict[str, Any]) -> str:
    """Explain errors and script counters under a row, when there are any."""
    parts = []
    non_2xx = {code: n for code, n in row.get("status", {}).items() if not code.startswith("2")}
    if non_2xx:
        parts.append("status " + ", ".join(f"{code}: {n}" for code, n in sorted(non_2xx.items())))
    sockets = {name: n for name, n in row.get("socket_errors", {}).items() if n}
    if sockets:
        parts.append("socket " + ", ".join(f"{name}: {n}" for name, n in sorted(sockets.items())))
    if row.get("counters"):
        parts.append("counters " + ", ".join(f"{k}: {v}" for k, v in sorted(row["counters"].items())))
    return "; ".join(parts)
