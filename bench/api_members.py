"""Read API at 100,000 members: walks every cursor page of ``GET /api/v1/members?limit=200`` and times each.

Run: ``.venv/bin/python bench/api_members.py [--members 100000] [--database-url postgresql+psycopg://...]``

Seeds a temporary database in bulk (SQLite by default; with ``--database-url`` a temporary
PostgreSQL database on that server, dropped afterwards): the organization "Bench" with the
members in 20 departments, 30 job titles and the workforce types, and a second organization
with a tenth as many members, so the page query must keep to one organization through its index.
Then walks all pages with an API key through the test client (no sockets: the figure is the
application's, routing, auth, the queries and the JSON included) and prints the median, the
95th percentile and the slowest page in milliseconds, the CPU ms of this process, and the
query plan of the page query. Target (issue 16): under 30 ms per page. Not a test: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.directory_seed import seed_organization, settle  # noqa: E402
from portal import create_app  # noqa: E402
from portal.core import api_keys  # noqa: E402
from portal.core.actors import Actor  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Member  # noqa: E402


def seed(app: Any, members: int) -> str:
    """ "Bench" with the members and "Noise" with a tenth as many (``directory_seed``), and an API key of
    "Bench" that reads members; returns the key."""
    with app.app_context():
        org_id, _ = seed_organization("Bench", members, domains=["bench.test"])
        seed_organization("Noise", members // 10, domains=["noise.test"])
        secret = api_keys.create_key(org_id, "bench", ["members:read"], "never", Actor.cli()).secret
        settle()
        return secret


def walk(client: Any, key: str, limit: int) -> tuple[list[float], list[float], int, list[int]]:
    """Every page in order: wall ms and CPU ms per page, the members seen, and their ids in order."""
    headers = {"Authorization": f"Bearer {key}"}
    timings, cpu, seen, order = [], [], 0, []
    cursor = None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get("/api/v1/members", query_string=query, headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen += len(body["data"])
        order.extend(hash(m["id"]) for m in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return timings, cpu, seen, order


def plan(app: Any, limit: int) -> None:
    """The page query's plan for each organization, deep in its walk: an index in id order, no sort."""
    with app.app_context():
        for name in ("Bench", "Noise"):
            org_id = db.session.scalar(text("SELECT id FROM organizations WHERE name = :n"), {"n": name})
            ids = select(Member.id).where(Member.org_id == org_id).order_by(Member.id)
            middle = db.session.scalar(
                ids.offset(db.session.scalar(select(sa.func.count()).select_from(ids.subquery())) // 2)
            )
            stmt = (
                select(Member.id)
                .where(Member.org_id == org_id, Member.id > middle)
                .order_by(Member.id)
                .limit(limit + 1)
            )
            compiled = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
            print(f"page query plan, halfway through {name}:")
            for row in db.session.execute(text(explain + compiled)):
                print(f"    {row[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--database-url", help="a PostgreSQL server (a temporary database is made on it)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one more walk")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="portal-bench-")
    url = f"sqlite:///{folder}/bench.db"
    admin_engine = None
    if args.database_url:
        base = make_url(args.database_url)
        name = f"portal_bench_{uuid.uuid4().hex[:12]}"
        admin_engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "TESTING": False,
                "JOBS_URL": "memory://",
            }
        )
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        started = time.perf_counter()
        key = seed(app, args.members)
        print(
            f"{make_url(url).get_backend_name()}: seeded {args.members:,} + {args.members // 10:,} members in "
            f"{time.perf_counter() - started:.1f} s"
        )
        client = app.test_client()
        walk(client, key, args.limit)  # warm: templates of nothing, but the database's pages and the code
        timings, cpu, seen, order = walk(client, key, args.limit)
        assert seen == args.members, (seen, args.members)
        assert len(set(order)) == seen  # every member exactly once
        ordered = sorted(timings)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            f"{len(timings)} pages of {args.limit}: median {statistics.median(timings):.1f} ms, "
            f"p95 {ordered[int(len(ordered) * 0.95) - 1]:.1f} ms, slowest {ordered[-1]:.1f} ms, "
            f"median CPU {statistics.median(cpu):.1f} ms"
        )
        plan(app, args.limit)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(walk, client, key, args.limit)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()


if __name__ == "__main__":
    main()
