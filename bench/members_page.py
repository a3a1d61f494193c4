"""Members page at 100,000 members: seeds a temporary SQLite database in bulk and times the page.

Run: ``.venv/bin/python bench/members_page.py [--members 100000] [--repeat 30]``

Prints the median and 95th percentile in milliseconds of the Members page as
an administrator opens it (the whole page, signed in, through the test
client), a search as you type (the htmx fragment), a deep page, the filters,
and the query plans of the count and page queries. Target: under 100 ms.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.core import departments, member_list, organizations
from portal.core.actors import Actor  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Department, JobTitle, Member, WorkforceType, member_departments, utcnow  # noqa: E402

PASSWORD = "bench password that is long enough"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie"]


def seed(app: Any, members: int) -> tuple[int, int]:
    """An organization with ``members`` members in 20 departments, bulk inserted; returns (org id, a department id)."""
    with app.app_context():
        org = organizations.create_organization("Bench", "admin@bench.test", PASSWORD, Actor.cli())
        db.session.flush()
        depts = [departments.create_department(org.id, f"Department {i:02}", Actor.cli()) for i in range(20)]
        titles = [JobTitle(org_id=org.id, name=f"Title {i}") for i in range(30)]
        db.session.add_all(titles)
        db.session.flush()
        workforce = db.session.scalars(select(WorkforceType.id).where(WorkforceType.org_id == org.id)).all()
        now = utcnow()
        batch: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        first_id = (db.session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 0) + 1
        for i in range(members):
            name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i:06}"
            user = f"user{i:06}@bench.test"
            batch.append(
                {
                    "id": first_id + i,
                    "public_id": str(uuid.uuid4()),
                    "org_id": org.id,
                    "external_id": user,
                    "external_id_norm": user,
                    "email": user,
                    "email_norm": user,
                    "name": name,
                    "name_norm": name.lower(),
                    "employee_id": f"E{i:06}",
                    "job_title_id": titles[i % len(titles)].id,
                    "employee_type_id": workforce[i % len(workforce)],
                    "status": "inactive" if i % 10 == 0 else "active",
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            links.append({"member_id": first_id + i, "department_id": depts[i % len(depts)].id})
            if len(batch) == 10_000:
                db.session.execute(insert(Member.__table__), batch)
                db.session.execute(insert(member_departments), links)
                batch, links = [], []
        if batch:
            db.session.execute(insert(Member.__table__), batch)
            db.session.execute(insert(member_departments), links)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return org.id, depts[3].id


def sign_in(client: Any) -> None:
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": "admin@bench.test", "password": PASSWORD, "csrf_token": token.group(1) or token.group(2)},
    )
    assert response.status_code == 302, response.status_code


def measure(client: Any, url: str, repeat: int, htmx: bool) -> tuple[float, float, float, int]:
    """Median and p95 wall-clock ms, median CPU ms of this process, and the response size."""
    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(3):  # warm the caches (templates, SQLite pages)
        client.get(url, headers=headers)
    timings, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    return (
        statistics.median(timings),
        timings[int(len(timings) * 0.95) - 1],
        statistics.median(cpu),
        len(response.get_data()),
    )


def plans(app: Any, org_id: int) -> None:
    """Show that the count and the page query are answered from indexes."""
    from sqlalchemy import func

    with app.app_context():
        for label, flt in (
            ("first page", member_list.MemberFilter()),
            ("search 'grace'", member_list.MemberFilter(search="grace")),
        ):
            count = select(func.count(Member.id)).where(*member_list.member_conditions(org_id, flt))
            total = db.session.scalar(count)
            page = member_list.member_page_ids(org_id, flt, total, limit=50, offset=0)
            for part, stmt in (("count", count), ("page ids", page)):
                compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
                rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
                print(f"  {label}, {part} query plan:")
                for row in rows:
                    print(f"    {row[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", metavar="FILE", help="keep the seeded SQLite database in FILE and reuse it next time")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="portal-bench-")
    db_file = Path(args.keep).resolve() if args.keep else Path(folder) / "bench.db"
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "TESTING": False,
            }
        )
        if args.keep and db_file.exists():
            with app.app_context():
                org_id = db.session.scalar(text("SELECT id FROM organizations WHERE name = 'Bench'"))
                dept_id = db.session.scalar(select(Department.id).where(Department.name == "Department 03"))
            print(f"reusing {db_file}")
        else:
            from flask_migrate import upgrade

            with app.app_context():
                upgrade()
            started = time.perf_counter()
            org_id, dept_id = seed(app, args.members)
            print(f"seeded {args.members:,} members in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        sign_in(client)
        cases = [
            ("Members page, first page (full page)", "/organization/members", False),
            ("Members page, first page (fragment)", "/organization/members", True),
            ("search as you type 'grace' (fragment)", "/organization/members?q=grace", True),
            ("search by email 'user05' (fragment)", "/organization/members?q=user05", True),
            ("search by employee ID 'E0999' (fragment)", "/organization/members?q=E0999", True),
            ("status Inactive (fragment)", "/organization/members?status=inactive", True),
            ("data source Admin Console (fragment)", "/organization/members?source=console", True),
            ("department filter (fragment)", f"/organization/members?department={dept_id}", True),
            ("page 1,000 (fragment)", "/organization/members?page=1000", True),
        ]
        # CPU ms is the time this process actually ran: on a busy shared machine the wall clock
        # also counts waiting for a core, CPU time does not.
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'case':<44} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8} {'bytes':>8}")
        for label, url, htmx in cases:
            median, p95, cpu, size = measure(client, url, args.repeat, htmx)
            flag = "" if median < 100 else "  <-- over 100 ms"
            print(f"{label:<44} {median:>10.1f} {p95:>8.1f} {cpu:>8.1f} {size:>8}{flag}")
        plans(app, org_id)
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
