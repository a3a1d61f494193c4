"""Sync health charts over 1,000,000 Sync log rows: how long the details page's and the card's queries take.

    python bench/sync_charts.py [--rows 1000000] [--days 180] [--repeat 30] [--database-url postgresql+psycopg://...]

Builds a fresh database (SQLite in a temporary folder unless ``--database-url`` names a
PostgreSQL server, on which a temporary database is made and dropped), one organization with
two sync sources, and bulk-inserts ``--rows`` Sync log rows spread evenly over the last
``--days`` days (180 is the default retention, so a database never holds older rows): 90 % on
the charted source (creates, updates, suspensions, 3 % failures, some of them folded refusals)
and 10 % on a second source with no failure at all, whose "last failure" lookup must walk its
whole history (the worst case of that query).

Times, in milliseconds (median and 95th percentile of ``--repeat`` runs after one warm-up):

- ``charts``: ``sync_stats.charts`` (the one grouped query behind the three charts, 7 days of rows);
- ``card``: ``sync_stats.health`` for both sources (failures in the last 24 hours, last failure);
- ``last_failure_none``: the last failure of the source that never failed.

Prints one JSON object with the query plans. Target: under 100 ms each. Not a test:
tests/console/test_sync_health.py checks the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import fresh_database, in_process_app  # noqa: E402

SEED_CHUNK = 20_000
#: the charted source's share of the rows; the rest go to the source that never failed
BUSY_SHARE = 0.9


def _row(org_id: int, source_id: int, at: Any, n: int, failing: bool) -> dict[str, Any]:
    """The n-th row: mostly member updates, some creates and suspensions; every 33rd a failure when ``failing``."""
    failure = failing and n % 33 == 0
    refused = failure and n % 99 == 0
    operation = "request" if refused else ("create", "update", "update", "update", "deactivate")[n % 5]
    return {
        "org_id": org_id,
        "source_id": source_id,
        "created_at": at,
        "repeat_count": 3 if refused else 1,
        "operation": operation,
        "object_type": None if refused else "member",
        "object_id": None,
        "object_name": None if refused else f"user{n % 50_000}@bench.example",
        "result": "failure" if failure else "success",
        "status_code": (401 if refused else 400) if failure else 200,
        "error_detail": "displayName is required" if failure else None,
        "changes": {},
        "associated": [],
        "notes": [],
        "method": "PATCH",
        "path": "/Users",
        "request_body": None,
    }


def _seed(url: str, rows: int, days: int) -> tuple[int, int, int]:
    """The organization, its two sources and ``rows`` Sync log rows; returns (org id, busy source, quiet source)."""
    from sqlalchemy import insert, text

    from portal.core import organizations, sync_sources
    from portal.core.actors import Actor
    from portal.extensions import db
    from portal.models import SyncLog, utcnow

    app = in_process_app(url)
    with app.app_context():
        org = organizations.create_organization(
            "Bench", "admin@bench.test", "bench password long enough 1", Actor.cli()
        )
        db.session.flush()
        busy, _ = sync_sources.create_source(org.id, "jumpcloud", Actor.cli(), name="JumpCloud")
        quiet, _ = sync_sources.create_source(org.id, "okta", Actor.cli(), name="Okta")
        db.session.commit()
        ids = (org.id, busy.id, quiet.id)
        now = utcnow()
        step = timedelta(days=days) / rows
        busy_rows = int(rows * BUSY_SHARE)
        for start in range(0, rows, SEED_CHUNK):
            values = []
            for n in range(start, min(rows, start + SEED_CHUNK)):
                # Interleaved in time: every tenth row is the quiet source's.
                quiet_row = n % 10 == 9 or n >= busy_rows + rows // 10
                values.append(_row(ids[0], ids[2] if quiet_row else ids[1], now - step * n, n, not quiet_row))
            db.session.execute(insert(SyncLog), values)
            db.session.commit()
        # Planner statistics, as the daily maintenance of a real database has them.
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        db.engine.dispose()
    return ids


def _time(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    run()  # warm-up: the first read brings pages into the cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(int(len(times) * 0.95) - 1, 0)], 2),
        "max_ms": round(times[-1], 2),
    }


def _plans(org_id: int, source_id: int) -> dict[str, list[str]]:
    """The plan of each query, as the database reports it (EXPLAIN QUERY PLAN / EXPLAIN)."""
    from portal.core import sync_stats
    from portal.extensions import db
    from portal.models import utcnow

    now = utcnow()
    statements = {
        "charts": sync_stats.charts_statement(org_id, source_id, now - timedelta(days=7), now),
        "card_failures": sync_stats.failures_statement(org_id, [source_id], now - timedelta(days=1)),
        "last_failure": sync_stats.last_failure_statement(org_id, source_id, now - sync_stats.LAST_FAILURE_WINDOW),
    }
    connection = db.session.connection()
    prefix = "EXPLAIN" if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    plans = {}
    for name, stmt in statements.items():
        compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        rows = connection.exec_driver_sql(f"{prefix} {compiled}").all()
        plans[name] = [str(row[-1]) for row in rows]
    return plans


def run(rows: int, days: int, repeat: int, server_url: str | None) -> dict[str, Any]:
    """Seed, then time the chart and card queries; return the figures."""
    from flask_migrate import upgrade

    with fresh_database(server_url, "sync-charts-bench-") as url:
        app = in_process_app(url)
        with app.app_context():
            upgrade()
        seed_started = time.perf_counter()
        org_id, busy, quiet = _seed(url, rows, days)
        seeded = time.perf_counter() - seed_started

        from portal.core import sync_stats
        from portal.extensions import db

        app = in_process_app(url)
        with app.app_context():
            charts = sync_stats.charts(org_id, busy)
            result = {
                "database": "postgresql" if server_url else "sqlite",
                "rows": rows,
                "days": days,
                "seed_seconds": round(seeded, 1),
                "charted_rows_7_days": sum(b.total for b in charts.daily),
                "charts": _time(lambda: sync_stats.charts(org_id, busy), repeat),
                "card": _time(lambda: sync_stats.health(org_id, [busy, quiet]), repeat),
                "last_failure_none": _time(lambda: sync_stats.last_failure(org_id, quiet), repeat),
                "plans": _plans(org_id, busy),
            }
            db.session.remove()
            db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=180, help="the rows are spread over this many days up to now")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+psycopg://...); SQLite by default")
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.days, args.repeat, args.database_url), indent=2))


if __name__ == "__main__":
    main()
