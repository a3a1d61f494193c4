"""Retention over millions of Sync log rows: how long the purge takes, and how long a SCIM write waits meanwhile.

    python bench/retention.py [--rows 2000000] [--batch 5000] [--database-url postgresql+psycopg://...]

Builds a fresh database (SQLite in a temporary folder unless ``--database-url`` names a
PostgreSQL server, on which a temporary database is made and dropped), an organization and
an active source through the CLI, then inserts ``--rows`` Sync log rows spread evenly over
the last 365 days (so with the default 180-day retention about half of them are due).
While ``portal.core.retention.prune`` deletes them, another process writes one Sync log row
and commits, again and again, as a SCIM request does: its slowest commit is the longest a
SCIM write waited for the purge. Prints one JSON object.

Not a test: tests/ops/test_retention.py checks the behaviour.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import fresh_database, in_process_app, prepare_app_database  # noqa: E402

SEED_CHUNK = 20_000


def _row(org_id: int, source_id: int, at: Any, n: int) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "source_id": source_id,
        "created_at": at,
        "repeat_count": 1,
        "operation": "create",
        "object_type": "member",
        "object_name": f"user{n}@bench.example",
        "result": "success",
        "status_code": 201,
        "changes": {"name": [None, f"User {n}"]},
        "associated": [],
        "notes": [],
        "method": "POST",
        "path": "/Users",
        "request_body": {"userName": f"user{n}@bench.example"},
    }


def _seed(url: str, rows: int) -> tuple[int, int, Any]:
    """Insert ``rows`` Sync log rows over the last 365 days; returns the org id, source id and 'now'."""
    from sqlalchemy import insert, select

    from portal.extensions import db
    from portal.models import SyncLog, SyncSource, utcnow

    app = in_process_app(url)
    with app.app_context():
        source = db.session.scalars(select(SyncSource)).one()
        org_id, source_id = source.org_id, source.id
        now = utcnow()
        step = timedelta(days=365) / rows
        for start in range(0, rows, SEED_CHUNK):
            values = [_row(org_id, source_id, now - step * n, n) for n in range(start, min(rows, start + SEED_CHUNK))]
            db.session.execute(insert(SyncLog), values)
            db.session.commit()
        db.engine.dispose()
    return org_id, source_id, now


def _writer(url: str, org_id: int, source_id: int, stop: Any, results: Any) -> None:
    """Write and commit one Sync log row after another until ``stop``; send back each commit's seconds."""
    from sqlalchemy import insert

    from portal.extensions import db
    from portal.models import SyncLog, utcnow

    app = in_process_app(url)
    waits: list[float] = []
    with app.app_context():
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            db.session.execute(insert(SyncLog), [_row(org_id, source_id, utcnow(), -n)])
            db.session.commit()
            waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(0.005)
    results.put(waits)


def run(rows: int, batch: int, server_url: str | None) -> dict[str, Any]:
    """Seed, purge with a writer running beside it; return the figures."""
    with fresh_database(server_url, "retention-bench-") as url:
        prepare_app_database(url, "http://127.0.0.1:5000")
        seed_started = time.perf_counter()
        org_id, source_id, now = _seed(url, rows)
        seeded = time.perf_counter() - seed_started

        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        writer = context.Process(target=_writer, args=(url, org_id, source_id, stop, results))
        writer.start()
        time.sleep(3)  # the writer's app is up and writing

        from portal.core import retention
        from portal.extensions import db

        app = in_process_app(url)
        with app.app_context():
            started, cpu = time.perf_counter(), time.process_time()
            counts = retention.prune(now, batch=batch)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
            db.engine.dispose()
        stop.set()
        waits = results.get(timeout=60)
        writer.join(30)
    waits_ms = sorted(w * 1000 for w in waits)
    return {
        "database": "postgresql" if server_url else "sqlite",
        "rows": rows,
        "seed_seconds": round(seeded, 1),
        "deleted": counts["sync_log"],
        "batch": batch,
        "prune_seconds": round(seconds, 2),
        "prune_cpu_seconds": round(cpu_seconds, 2),
        "rows_per_second": round(counts["sync_log"] / seconds) if seconds else None,
        "writer_commits": len(waits_ms),
        "writer_commit_ms_median": round(statistics.median(waits_ms), 2) if waits_ms else None,
        "writer_commit_ms_p99": round(waits_ms[int(len(waits_ms) * 0.99) - 1], 2) if waits_ms else None,
        "writer_commit_ms_max": round(waits_ms[-1], 2) if waits_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+psycopg://...); SQLite by default")
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.batch, args.database_url), indent=2))


if __name__ == "__main__":
    main()
