"""A directory of many members, bulk inserted as the app would hold them: the Members page's and the read
API's benches seed with it (``bench/members_page.py``, ``bench/api_members.py``).

Run inside an app context. The members get everything the member writer sets for them (``*_norm``
columns, the folded search text, the department order), 10,000 rows a statement; SQLite's FTS5 table
follows by its triggers, PostgreSQL's trigram index by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text

from portal.core import departments, organizations
from portal.core.actors import Actor
from portal.extensions import db
from portal.infra import sqlite_writes
from portal.models import Department, JobTitle, Member, WorkforceType, member_departments, member_search_text, utcnow

PASSWORD = "bench password that is long enough"
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Jürgen",
    "Łukasz",
]
LAST = ["Lovelace", "Hopper", "Turing", "Kowalski", "Liskov", "Knuth", "Müller", "Smith", "Goldsmith", "Ritchie"]
DOMAINS = ["acme.com", "globex.test", "initech.test", "umbrella.test", "hooli.test"]
ROLES = ["Software Engineer", "Account Executive", "Designer", "Data Analyst", "Recruiter", "Support Agent"]
LEVELS = ["Junior", "", "Senior", "Staff", "Principal"]
BATCH = 10_000


def seed_organization(name: str, members: int, domains: Sequence[str] = DOMAINS) -> tuple[int, list[Department]]:
    """An organization ``name`` (its admin ``admin@<name>.test``) with ``members`` members spread over 20
    departments and 30 job titles, one in ten inactive; returns its id and its departments. Not committed."""
    org = organizations.create_organization(name, f"admin@{name.lower()}.test", PASSWORD, Actor.cli())
    db.session.flush()
    depts = [departments.create_department(org.id, f"Department {i:02}", Actor.cli()) for i in range(20)]
    titles = [JobTitle(org_id=org.id, name=f"{level} {role}".strip()) for level in LEVELS for role in ROLES]
    db.session.add_all(titles)
    db.session.flush()
    workforce = db.session.scalars(select(WorkforceType.id).where(WorkforceType.org_id == org.id)).all()
    now = utcnow()
    first_id = (db.session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 0) + 1
    batch: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for i in range(members):
        person = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i:06}"
        user = f"user{i:06}@{domains[i % len(domains)]}"
        title = titles[i % len(titles)]
        department = depts[i % len(depts)]
        batch.append(
            {
                "id": first_id + i,
                "public_id": str(uuid.uuid4()),
                "org_id": org.id,
                "external_id": user,
                "external_id_norm": user,
                "email": user,
                "email_norm": user,
                "name": person,
                "name_norm": person.lower(),
                "employee_id": f"E{i:06}",
                "employee_id_norm": f"e{i:06}",
                "job_title_id": title.id,
                "search_text": member_search_text(person, user, f"E{i:06}", user, title.name),
                "department_sort": department.name_norm,
                "employee_type_id": workforce[i % len(workforce)],
                "status": "inactive" if i % 10 == 0 else "active",
                "custom_fields": {},
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
        links.append({"member_id": first_id + i, "department_id": department.id})
        if len(batch) == BATCH:
            db.session.execute(insert(Member.__table__), batch)
            db.session.execute(insert(member_departments), links)
            batch, links = [], []
    if batch:
        db.session.execute(insert(Member.__table__), batch)
        db.session.execute(insert(member_departments), links)
    if db.engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
        db.session.execute(text("SELECT setval('members_id_seq', (SELECT max(id) FROM members))"))
    return org.id, depts


def settle() -> None:
    """Commit, then what a database does soon after a bulk load: statistics, on PostgreSQL the
    visibility map that index-only scans need (autovacuum's VACUUM ANALYZE), on SQLite the Members
    search's index (``portal.infra.search_index``)."""
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        # The Members search's index is built now, as a database that grew over time would have it.
        if db.engine.url.database:
            sqlite_writes.finish_background(db.engine.url.database)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
