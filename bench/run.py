"""``make bench``: the app against the framework ceiling and the peer, then the scale figures.

    python bench/run.py [--workers 2] [--duration 10] [--database-url postgresql+psycopg://...]

Per database (SQLite in a temp dir; PostgreSQL too when ``--database-url`` or
``BENCH_DATABASE_URL`` is set, on a fresh temporary database dropped
afterwards), with the same wrk settings and gunicorn workers for every server:

1. the bare Flask ceiling (echo, one indexed SELECT, one INSERT + COMMIT);
2. the peer scim2-server in memory, one process with threads (filter, create,
   PATCH; measured once);
3. the app under gunicorn with its production ``gunicorn.conf.py``, an
   organization and an active JumpCloud source made through the CLI: filter
   lookup by userName, create (department and title), PATCH active false, PUT,
   GET by id, DELETE; printed with the ratios to the ceiling and to the peer;
4. scale: filter lookup and GET by id with 1,000 and with 100,000 members side
   by side; an initial sync of 100,000 users (lookup + create each, 8
   connections); the Members console page at 100,000 members
   (bench/members_page.py, when present).

Every server listens on 127.0.0.1 and every load is bounded in time.
``--json PATH`` writes every figure; the exit status is 1 when a load failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import service_times  # noqa: E402
from bench.app_target import (
    app_target,  # noqa: E402
    temporary_postgres,  # noqa: E402
)
from bench.initial_sync import initial_sync, initial_sync_wrk  # noqa: E402
from bench.loadgen import (
    LoadSettings,  # noqa: E402
    find_wrk,  # noqa: E402
)
from bench.reference.targets import (
    PEER_THREADS,  # noqa: E402
    bare_flask_target,  # noqa: E402
    peer_target,  # noqa: E402
)
from bench.runner import (
    REPO_ROOT,  # noqa: E402
    ServerContext,  # noqa: E402
    Target,  # noqa: E402
    free_port,  # noqa: E402
    ratios,  # noqa: E402
    run_target,  # noqa: E402
    serving,  # noqa: E402
)

PEER = "scim2-server"
CEILING = "bare-flask"
PEER_OPERATIONS = {"filter", "create", "patch"}
PEER_SEED_USERS = 5000
MEMBERS_PAGE = REPO_ROOT / "bench" / "members_page.py"


def log(message: str) -> None:
    """Progress goes to stderr; the tables go to stdout."""
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS") or 2),
        help="gunicorn workers for every server (default 2, or $WORKERS)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured operation (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each operation (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or None,
        help="PostgreSQL server to measure too, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres "
        "(default $BENCH_DATABASE_URL); a temporary database is made there and dropped",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated databases to measure: sqlite, postgresql (default: sqlite, and "
        "postgresql when a database URL is given)",
    )
    parser.add_argument(
        "--app-config",
        choices=("production", "bench"),
        default="bench",
        help="gunicorn config of the app: the references' bench config (default: the same "
        "gunicorn settings for every server, no access log) or its own gunicorn.conf.py "
        "(production: JSON access log, one line per request)",
    )
    parser.add_argument("--scale-members", type=int, default=100_000, help="members of the large scale run (100,000)")
    parser.add_argument("--sync-users", type=int, default=100_000, help="users of the initial sync (100,000; 0 skips)")
    parser.add_argument("--sync-deadline", type=int, default=900, help="seconds the initial sync may take at most")
    parser.add_argument(
        "--sync-loader",
        choices=("wrk", "python"),
        default="wrk",
        help="initial sync driven by wrk (bench/lua/scim_initial_sync.lua, one thread, default) "
        "or by bench/initial_sync.py's Python threads (each user's create waits for its lookup)",
    )
    parser.add_argument("--skip-scale", action="store_true", help="only the main table")
    parser.add_argument("--skip-references", action="store_true", help="measure the app only")
    parser.add_argument("--ops", default=None, help="app operations to measure (default: all six)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep databases and server logs")
    parser.add_argument(
        "--service-times",
        action="store_true",
        help="also print the app's service time, write-lock wait and hold, and CPU per operation"
        " (bench/service_times.py; with the bench gunicorn config)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    return parser


# ---------------------------------------------------------------- tables


def format_rows(rows: list[dict[str, Any]], ceiling: str, peer: str) -> str:
    """One table: per operation req/s, p50, p99, errors, and the ratios to the ceiling and the peer."""
    to_ceiling = ratios(rows, ceiling)
    to_peer = ratios(rows, peer)
    header = (
        f"{'target':<16} {'operation':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'vs ceiling':>10} {'vs peer':>8}"
    )
    out = [header, "-" * len(header)]
    kinds = list(dict.fromkeys(row["kind"] for row in rows))
    for kind in kinds:
        for row in (r for r in rows if r["kind"] == kind):
            name = f"{row['target']:<16} {row['operation']:<9}"
            if "error" in row:
                out.append(f"{name} FAILED: {row['error'].splitlines()[0][:90]}")
                continue
            key = (row["target"], row["operation"])
            ceiling_text = f"{to_ceiling[key]:.2f}x" if key in to_ceiling and row["target"] != ceiling else ""
            peer_text = f"{to_peer[key]:.2f}x" if key in to_peer and row["target"] != peer else ""
            out.append(
                f"{name} {row['rps']:>8.1f} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['errors']:>6}"
                f" {ceiling_text:>10} {peer_text:>8}"
            )
            bad = {code: n for code, n in row.get("status", {}).items() if not code.startswith("2")}
            if bad or row.get("counters"):
                out.append(f"{'':<26} status {bad} counters {row.get('counters')}")
    return "\n".join(out) + "\n"


def format_scale(small: list[dict[str, Any]], large: list[dict[str, Any]], small_n: int, large_n: int) -> str:
    """Lookup and GET with few and many members side by side, with the slow-down factor."""
    by_small = {row["operation"]: row for row in small}
    header = (
        f"{'operation':<9} {f'{small_n:,} req/s':>13} {'p50':>6} {'p99':>6}"
        f" {f'{large_n:,} req/s':>15} {'p50':>6} {'p99':>6} {'slow-down':>9}"
    )
    out = [header, "-" * len(header)]
    for row in large:
        base = by_small.get(row["operation"])
        if base is None or "error" in row or "error" in base:
            out.append(f"{row['operation']:<9} FAILED: {(row.get('error') or (base or {}).get('error') or '?')[:90]}")
            continue
        factor = base["rps"] / row["rps"] if row["rps"] else float("inf")
        out.append(
            f"{row['operation']:<9} {base['rps']:>13.1f} {base['p50_ms']:>6.2f} {base['p99_ms']:>6.2f}"
            f" {row['rps']:>15.1f} {row['p50_ms']:>6.2f} {row['p99_ms']:>6.2f} {factor:>8.2f}x"
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- runs


@contextlib.contextmanager
def database_for(backend: str, server_url: str | None) -> Iterator[str | None]:
    """None for SQLite (each target makes its own file); a temporary PostgreSQL database otherwise."""
    if backend == "sqlite":
        yield None
    else:
        assert server_url
        with temporary_postgres(server_url) as url:
            yield url


def measure(
    target: Target,
    settings: LoadSettings,
    args: argparse.Namespace,
    options: dict[str, Any],
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Run one target with the run's settings."""
    return run_target(
        target, settings, args.workers, None, {**options, "keep_workdir": args.keep_workdir}, only, log, args.warmup
    )


def run_initial_sync(backend: str, args: argparse.Namespace, app_options: dict[str, Any]) -> dict[str, Any]:
    """Serve a fresh app (no members) and push ``--sync-users`` users through it."""
    target = app_target("app-initial-sync", members=0, extra_per_second=0, operations=())
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    ctx = ServerContext(
        name=target.name,
        host="127.0.0.1",
        port=free_port(),
        workers=args.workers,
        workdir=workdir,
        duration=0,
        token=secrets.token_urlsafe(8),
        options={**app_options},
    )
    try:
        log(f"[{backend}] initial sync of {args.sync_users:,} users, {args.connections} connections")
        with serving(target, ctx):
            push = initial_sync_wrk if args.sync_loader == "wrk" else initial_sync
            result = push(
                ctx.base_url,
                ctx.options["scim_base"],
                ctx.token,
                args.sync_users,
                concurrency=args.connections,
                deadline=args.sync_deadline,
            )
        return {**result.as_dict(), "loader": args.sync_loader}
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run_members_page(args: argparse.Namespace) -> str:
    """The Members console page at ``--scale-members`` members (org-pages' script), or why it was skipped."""
    if not MEMBERS_PAGE.exists():
        return "bench/members_page.py is not in this checkout: Members page not measured\n"
    log(f"Members page with {args.scale_members:,} members")
    completed = subprocess.run(
        [sys.executable, str(MEMBERS_PAGE), "--members", str(args.scale_members), "--repeat", "20"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "RATELIMIT_ENABLED": "false"},
    )
    if completed.returncode != 0:
        return f"members_page.py failed ({completed.returncode}):\n{completed.stderr[-1500:]}\n"
    return completed.stdout


def run_backend(
    backend: str,
    args: argparse.Namespace,
    settings: LoadSettings,
    peer_rows: list[dict[str, Any]],
    only: set[str] | None,
) -> dict[str, Any]:
    """Every measurement on one database; prints its tables as they complete."""
    result: dict[str, Any] = {"backend": backend}
    rows: list[dict[str, Any]] = []
    if not args.skip_references:
        with database_for(backend, args.database_url) as url:
            rows += measure(bare_flask_target(), settings, args, {"database_url": url})
    rows += peer_rows
    app_options: dict[str, Any] = {"app_gunicorn_config": args.app_config}
    with contextlib.ExitStack() as stack:
        if args.service_times:
            app_options["service_times_dir"] = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-times-"))
        with database_for(backend, args.database_url) as url:
            rows += measure(app_target("app"), settings, args, {**app_options, "app_database_url": url}, only)
        result["rows"] = rows
        print(f"\n## {backend}: JumpCloud-shaped traffic, {settings.connections} connections\n")
        print(format_rows(rows, CEILING, PEER), flush=True)
        if args.service_times:
            print(f"## {backend}: the app's side of each request (bench/service_times.py), ms\n")
            operations = [row["operation"] for row in rows if row["target"] == "app"]
            print(service_times.summarize(Path(app_options["service_times_dir"]), operations), flush=True)
    if args.skip_scale:
        return result
    scale: dict[str, list[dict[str, Any]]] = {}
    for members in (1000, args.scale_members):
        with database_for(backend, args.database_url) as url:
            scale[str(members)] = measure(
                app_target(
                    f"app@{members // 1000}k", members=members, extra_per_second=0, operations=("filter", "get")
                ),
                settings,
                args,
                {"app_database_url": url, "app_gunicorn_config": args.app_config},
            )
    result["scale"] = scale
    print(f"## {backend}: lookup by userName and GET by id, 1,000 vs {args.scale_members:,} members\n")
    print(format_scale(scale["1000"], scale[str(args.scale_members)], 1000, args.scale_members), flush=True)
    if args.sync_users:
        with database_for(backend, args.database_url) as url:
            sync = run_initial_sync(backend, args, {"app_database_url": url, "app_gunicorn_config": args.app_config})
        result["initial_sync"] = sync
        print(
            f"## {backend}: initial sync, {sync['users']:,} users (lookup + create each), "
            f"{args.connections} connections\n"
        )
        projected = (
            f"; at that rate all {sync['users']:,} would take {sync['users'] / sync['users_per_second']:.0f} s"
            if not sync["finished"] and sync["users_per_second"]
            else ""
        )
        print(
            f"{sync['created']:,} created in {sync['seconds']:.1f} s ({sync['users_per_second']:.0f} users/s, "
            f"{'complete' if sync['finished'] else 'NOT complete: stopped at --sync-deadline'}{projected}); "
            f"{'per request' if sync['loader'] == 'wrk' else 'per user (lookup + create)'} "
            f"p50 {sync['latency_ms']['p50']:.1f} ms, "
            f"p99 {sync['latency_ms']['p99']:.1f} ms; status {sync['status']}\n",
            flush=True,
        )
    return result


def machine() -> str:
    """Cores, memory and load average, for the record."""
    cores = os.cpu_count()
    try:
        mem_kb = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cores} cores, {memory} memory, load average {load}"


def main(argv: list[str] | None = None) -> int:
    """Run everything; exit 1 if any load failed."""
    args = build_parser().parse_args(argv)
    find_wrk()
    settings = LoadSettings(connections=args.connections, threads=args.threads, duration=args.duration)
    only = {name.strip() for name in args.ops.split(",")} if args.ops else None
    started = time.time()
    print(f"# make bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}")
    print(f"machine: {machine()}")
    app_config = (
        "gunicorn.conf.py (production, JSON access log)" if args.app_config == "production" else "bench (no access log)"
    )
    print(
        f"wrk: {settings.connections} connections, {settings.threads} threads, {settings.duration} s per operation "
        f"after {args.warmup} s warm-up; gunicorn: {args.workers} sync workers; app gunicorn config: {app_config}; "
        f"peer: one process, {PEER_THREADS} threads (its in-memory store is per process)",
        flush=True,
    )
    peer_rows: list[dict[str, Any]] = []
    if not args.skip_references:
        peer = peer_target()
        peer.operations = [op for op in peer.operations if op.name in PEER_OPERATIONS]
        # Enough users for its PATCH ids; without a delete run it needs no 4,000 per second of duration.
        peer_rows = measure(peer, settings, args, {"peer_seed_users": PEER_SEED_USERS})
    backends = ["sqlite"] + (["postgresql"] if args.database_url else [])
    if args.backends:
        backends = [name.strip() for name in args.backends.split(",") if name.strip()]
        if "postgresql" in backends and not args.database_url:
            print("postgresql needs --database-url or BENCH_DATABASE_URL", file=sys.stderr)
            return 2
    results = [run_backend(backend, args, settings, peer_rows, only) for backend in backends]
    if not args.skip_scale:
        print(f"## Members console page, {args.scale_members:,} members (bench/members_page.py, SQLite)\n")
        members_page = run_members_page(args)
        print(members_page, flush=True)
    print(f"finished in {time.time() - started:.0f} s; {machine()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2, sort_keys=True))
    failed = any("error" in row for result in results for row in result["rows"])
    failed |= any("error" in row for result in results for rows in result.get("scale", {}).values() for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
