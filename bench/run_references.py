"""Measure the two reference servers and print one table per kind of operation.

    python bench/run_references.py [--duration 10] [--workers 2] [--targets bare-flask,scim2-server]

Each target is started under gunicorn on 127.0.0.1 and a free port, seeded,
loaded with wrk (same connections, threads and duration for every
operation), then stopped. ``--json PATH`` also writes the raw rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/; the package lives one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import LoadSettings  # noqa: E402
from bench.reference.targets import reference_targets  # noqa: E402
from bench.runner import (
    format_table,  # noqa: E402
    run_targets,  # noqa: E402
)


def build_parser() -> argparse.ArgumentParser:
    """Return the CLI parser; the options a full ``make bench`` runner can reuse."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per operation (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--timeout", type=int, default=5, help="wrk request timeout in seconds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each operation (default 1)")
    parser.add_argument("--targets", default=None, help="comma-separated target names (default: all)")
    parser.add_argument("--ops", default=None, help="comma-separated operation names (default: all)")
    parser.add_argument("--database-url", default=None, help="bare-flask database (default: SQLite in a temp dir)")
    parser.add_argument("--seed-rows", type=int, default=None, help="rows seeded for bare-flask (default 10000)")
    parser.add_argument("--peer-seed-users", type=int, default=None, help="users seeded in scim2-server")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs, databases and ids files")
    parser.add_argument("--json", type=Path, default=None, help="also write the result rows to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the references; exit 1 if any operation failed."""
    args = build_parser().parse_args(argv)
    targets = reference_targets()
    if args.targets:
        wanted = {name.strip() for name in args.targets.split(",") if name.strip()}
        unknown = wanted - {target.name for target in targets}
        if unknown:
            print(f"unknown targets: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        targets = [target for target in targets if target.name in wanted]
    only = {name.strip() for name in args.ops.split(",")} if args.ops else None
    settings = LoadSettings(
        connections=args.connections, threads=args.threads, duration=args.duration, timeout=args.timeout
    )
    options = {
        "database_url": args.database_url,
        "seed_rows": args.seed_rows,
        "peer_seed_users": args.peer_seed_users,
        "keep_workdir": args.keep_workdir,
    }
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    rows = run_targets(targets, settings, args.workers, options, only, log, args.warmup)
    print(
        f"\nwrk: {settings.connections} connections, {settings.threads} threads, "
        f"{settings.duration}s per operation after {args.warmup}s warm-up; gunicorn: {args.workers} sync workers\n"
    )
    print(format_table(rows), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2, sort_keys=True))
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
