"""Members tab: search by any part, sorting and the CSV export (issue 13, section 2).

A search of 3 characters or more is found anywhere in a member's name, email, employee ID, job
title or userName, accents folded ("Muller" finds "Müller"): a substring, so "smith" finds
"Goldsmith" too. A SCIM id is found whole. A shorter search matches the start of a name, email,
userName or employee ID, as before. Members are made through the writers (the console's and SCIM's).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select

from portal import create_app
from portal.core import departments, member_list, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.infra import search_index, sqlite_writes
from portal.models import Department, Member, Organization, SyncSource
from tests.conftest import TEST_DATABASE_URL, Console, _config
from tests.factories import make_admin, make_org
from tests.scim.conftest import ENTERPRISE, USER_SCHEMA, Scim, add_source

pytestmark = pytest.mark.both_databases


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="cell-primary">([^<]+)</span>', html)


def _hand(app: Any, org_id: int, user_name: str, name: str, **values: Any) -> int:
    with app.app_context():
        member = members.create_member(
            org_id, {"external_id": user_name, "email": user_name, "name": name, **values}, Actor.cli()
        )
        db.session.commit()
        return member.id


@pytest.fixture
def people(app: Any, runner: Any, org: Any) -> dict[str, Any]:
    """Five hand-made members and one a SCIM source made; returns the SCIM one's resource and the source."""
    _hand(app, org.id, "anna.smith@acme.com", "Anna Smith", job_title="Staff Engineer")
    _hand(app, org.id, "paul@globex.test", "Paul Goldsmith")
    _hand(app, org.id, "jan@globex.test", "Jan Kowalski", employee_id="EMP-4417")
    _hand(app, org.id, "juergen@initech.test", "Jürgen Müller", external_id="jm-admin")
    _hand(app, org.id, "lukasz@initech.test", "Łukasz Nowak")
    source = add_source(runner, org.name, "--activate")
    sam = Scim(app.test_client(), source).create_user(
        "sam.s@corp.example",
        displayName="Sam Synced",
        title="Platform Wizard",
        **{"schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"employeeNumber": "S-100"}},
    )
    return {"sam": sam, "source": source}


def _search(console: Console, q: str, **args: str) -> list[str]:
    response = console.get("/organization/members", query_string={"q": q, **args}, htmx=True)
    assert response.status_code == 200
    return _names(response.get_data(as_text=True))


# ---------------------------------------------------------------- search


@pytest.mark.parametrize(
    "q, found",
    [
        # Any part of the name: a substring, so "smith" is inside "Goldsmith" as well.
        ("smith", ["Anna Smith", "Paul Goldsmith"]),
        ("Kowalski", ["Jan Kowalski"]),
        ("owals", ["Jan Kowalski"]),
        # Accents folded both ways.
        ("Muller", ["Jürgen Müller"]),
        ("MÜLLER", ["Jürgen Müller"]),
        ("jurgen", ["Jürgen Müller"]),
        ("lukasz", ["Łukasz Nowak"]),
        # Any part of the email: its domain.
        ("acme", ["Anna Smith"]),
        ("globex.test", ["Jan Kowalski", "Paul Goldsmith"]),
        # The job title, the employee ID (any part), the userName.
        ("staff eng", ["Anna Smith"]),
        ("wizard", ["Sam Synced"]),
        ("4417", ["Jan Kowalski"]),
        ("s-100", ["Sam Synced"]),
        ("jm-adm", ["Jürgen Müller"]),
        # Nothing matches: an empty list, not every member.
        ("zebra", []),
    ],
)
def test_a_search_finds_a_member_by_any_part(app: Any, console: Console, people: Any, q: str, found: list[str]) -> None:
    assert _search(console, q) == found


def test_a_scim_id_finds_its_member_whole_and_in_any_case_but_not_a_piece_of_it(
    app: Any, console: Console, people: Any
) -> None:
    scim_id = people["sam"]["id"]
    assert _search(console, scim_id) == ["Sam Synced"]
    assert _search(console, scim_id.upper()) == ["Sam Synced"]
    # Pieces of hex ids would find random members ("e0999" is in many ids): an id is matched whole.
    assert _search(console, scim_id[9:23]) == []


def test_a_search_under_three_characters_matches_the_start_only(app: Any, console: Console, people: Any) -> None:
    assert _search(console, "Pa") == ["Paul Goldsmith"]
    assert _search(console, "mi") == []  # inside "Smith", not at a start: trigrams need 3 characters
    assert _search(console, "jm") == ["Jürgen Müller"]  # the userName's start


def test_a_search_keeps_the_filters_and_like_wildcards_are_text(app: Any, console: Console, people: Any) -> None:
    source_id = people["source"].id
    with app.app_context():
        row_id = db.session.scalar(select(SyncSource.id).where(SyncSource.public_id == source_id))
    assert _search(console, "s", source=str(row_id)) == ["Sam Synced"]
    assert _search(console, "smith", source="console") == ["Anna Smith", "Paul Goldsmith"]
    assert _search(console, "smith", source=str(row_id)) == []
    assert _search(console, "%mit") == [] and _search(console, "_mith") == []


def test_another_organizations_members_never_appear(app: Any, console: Console, people: Any) -> None:
    other = make_org(app, "Globex", "owner@globex.test")
    _hand(app, other.id, "will.smith@acme.com", "Will Smith")
    assert _search(console, "smith") == ["Anna Smith", "Paul Goldsmith"]
    assert _search(console, "will.smith@acme.com") == []
    export = console.get("/organization/members/export.csv?q=smith").get_data(as_text=True)
    assert "Will Smith" not in export
    # The one search function the other readers (the read API, the group picker) build on.
    from portal.core.member_list import search_condition

    with app.app_context():
        found = db.session.scalars(select(Member.name).where(search_condition(other.id, "smith"))).all()
        assert found == ["Will Smith"]
        assert len(db.session.scalars(select(Member.id).where(search_condition(other.id, " "))).all()) == 1


# ---------------------------------------------------------------- the index follows every change


def _fts_intact(app: Any) -> None:
    """SQLite: once every change is indexed, the search file holds every member's text as it is, and its FTS5
    index agrees with itself (FTS5's own integrity check)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sqlite_writes.finish_background(db.engine.url.database)
            assert _waiting_now() == 0
            # One row of changes per member: a deleted member's goes once the index has forgotten it.
            numbered = sa.text("SELECT count(*) FROM member_search_changes c JOIN members m ON m.id = c.member_id")
            assert db.session.scalar(numbered) == db.session.scalar(
                sa.text("SELECT count(*) FROM member_search_changes")
            )
            assert db.session.scalar(numbered) == db.session.scalar(sa.text("SELECT count(*) FROM members"))
            stale = sa.text(
                "SELECT count(*) FROM members m LEFT JOIN search.member_search_indexed i ON i.member_id = m.id"
                " WHERE i.search_text IS NOT m.search_text"
            )
            assert db.session.scalar(stale) == 0
            gone = sa.text(
                "SELECT count(*) FROM search.member_search_indexed i WHERE i.member_id NOT IN (SELECT id FROM members)"
            )
            assert db.session.scalar(gone) == 0
            db.session.execute(
                sa.text("INSERT INTO search.member_search(member_search, rank) VALUES ('integrity-check', 1)")
            )


def test_edits_renames_title_changes_and_deletes_keep_the_search_in_step(
    app: Any, console: Console, people: Any
) -> None:
    anna = _member_by_name(app, "Anna Smith")
    assert _search(console, "anna smith") == ["Anna Smith"]
    with app.app_context():
        members.update_member(console_org(app), anna, {"name": "Anna Jones", "job_title": "Chief Wizard"}, Actor.cli())
        db.session.commit()
    # Her email (anna.smith@...) still holds "smith"; her old name is gone.
    assert _search(console, "anna smith") == []
    assert _search(console, "smith") == ["Anna Jones", "Paul Goldsmith"]
    assert _search(console, "jones") == ["Anna Jones"]
    assert _search(console, "staff eng") == []
    assert _search(console, "wizard") == ["Anna Jones", "Sam Synced"]
    # A synced member's title changes over SCIM (RFC 7644 section 3.5.2, PATCH replace).
    scim = Scim(app.test_client(), people["source"])
    response = scim.ops(f"/Users/{people['sam']['id']}", {"op": "replace", "path": "title", "value": "Release Captain"})
    assert response.status_code in (200, 204)
    assert _search(console, "wizard") == ["Anna Jones"]
    assert _search(console, "captain") == ["Sam Synced"]
    # Deleted by hand, and over SCIM (RFC 7644 section 3.6, the source's deletion rule set to delete).
    with app.app_context():
        db.session.execute(sa.update(SyncSource).values(deletion_rule="delete"))
        members.delete_member(console_org(app), _member_by_name(app, "Jan Kowalski"), Actor.cli())
        db.session.commit()
    assert scim.delete(f"/Users/{people['sam']['id']}").status_code == 204
    assert _search(console, "kowalski") == [] and _search(console, "captain") == []
    # A new member gets the deleted one's row id on SQLite: none of the old words come with it.
    _hand(app, console_org(app), "new@initech.test", "New Person")
    assert _search(console, "kowalski") == [] and _search(console, "new person") == ["New Person"]
    _fts_intact(app)


def console_org(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(Organization.id).where(Organization.name == "Acme"))


def _member_by_name(app: Any, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Member.id).where(Member.name == name))


def test_the_migration_backfills_members_made_before_it(app: Any, database_url: str) -> None:
    """Migration 0008 on a database with members: their search text and index are built."""
    from flask_migrate import downgrade, upgrade

    url, cleanup = _fresh_database(database_url)
    try:
        fresh = create_app(_config(url))
        with fresh.app_context():
            upgrade(revision="0007")
            with db.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO organizations (id, name, name_norm, created_at, event_seq)"
                        " VALUES (1, 'Old', 'old', CURRENT_TIMESTAMP, 0)"
                    )
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO job_titles (id, org_id, name, name_norm, created_at)"
                        " VALUES (1, 1, 'Night Auditor', 'night auditor', CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO members (public_id, org_id, external_id, external_id_norm, email, email_norm,"
                        " name, name_norm, status, custom_fields, job_title_id, created_at, updated_at, version)"
                        " VALUES (:p, 1, 'zoe', 'zoe', 'zoe@old.test', 'zoe@old.test', 'Zoë Åberg', 'zoë åberg',"
                        " 'active', '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                    ),
                    {"p": str(uuid.uuid4())},
                )
                for dept_id, parent_id, name in ((1, None, "Night Shift"), (2, 1, "Audit")):
                    conn.execute(
                        sa.text(
                            "INSERT INTO departments (id, public_id, org_id, parent_id, name, name_norm, created_at,"
                            " updated_at) VALUES (:id, :p, 1, :parent, :name, :norm, CURRENT_TIMESTAMP,"
                            " CURRENT_TIMESTAMP)"
                        ),
                        {
                            "id": dept_id,
                            "p": str(uuid.uuid4()),
                            "parent": parent_id,
                            "name": name,
                            "norm": name.lower(),
                        },
                    )
                    conn.execute(
                        sa.text("INSERT INTO member_departments (member_id, department_id) SELECT id, :d FROM members"),
                        {"d": dept_id},
                    )
            upgrade()
            from portal.core import member_list

            def found(q: str) -> list[str]:
                rows, _ = member_list.list_members(1, member_list.MemberFilter(search=q), limit=10, offset=0)
                return [m.name for m in rows]

            assert found("aberg") == ["Zoë Åberg"] and found("auditor") == ["Zoë Åberg"]
            assert found("old.test") == ["Zoë Åberg"]
            # The department order: the first of her departments by name.
            assert db.session.scalar(select(Member.department_sort)) == "audit"
            _fts_intact(fresh)
            db.session.remove()  # its read transaction would hold the lock the downgrade's ALTER TABLE waits for
            downgrade(revision="0007")
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


def _fresh_database(database_url: str) -> tuple[str, Any]:
    """An empty database next to the session's, and how to drop it."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///") + f".{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: os.path.exists(path) and os.remove(path)
    base = sa.engine.make_url(TEST_DATABASE_URL)
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


# ---------------------------------------------------------------- sorting


@pytest.fixture
def sortable(app: Any, org: Any) -> None:
    """Four members in two departments (one in none), one suspended."""
    with app.app_context():
        zeta = departments.create_department(org.id, "Zeta", Actor.cli())
        alpha = departments.create_department(org.id, "alpha", Actor.cli())
        db.session.commit()
        zeta_id, alpha_id = zeta.id, alpha.id
    _hand(app, org.id, "bo@x.test", "Bo", department_ids=[zeta_id])
    _hand(app, org.id, "al@x.test", "Al", department_ids=[alpha_id])
    _hand(app, org.id, "cy@x.test", "Cy")
    dee = _hand(app, org.id, "dee@x.test", "Dee", department_ids=[zeta_id, alpha_id])
    with app.app_context():
        members.set_member_active(org.id, dee, False, Actor.cli())
        db.session.commit()


@pytest.mark.parametrize(
    "sort, order",
    [
        ("name", ["Al", "Bo", "Cy", "Dee"]),
        ("-name", ["Dee", "Cy", "Bo", "Al"]),
        # By the first department's name, any case; in no department first.
        ("department", ["Cy", "Al", "Dee", "Bo"]),
        # Active before inactive, by name within each.
        ("status", ["Al", "Bo", "Cy", "Dee"]),
        ("nonsense", ["Al", "Bo", "Cy", "Dee"]),
    ],
)
def test_the_list_sorts_by_name_department_or_status(
    app: Any, console: Console, sortable: None, sort: str, order: list[str]
) -> None:
    assert _names(console.get(f"/organization/members?sort={sort}").get_data(as_text=True)) == order
    # A search keeps the order (few matches are sorted, not read in index order).
    assert _names(console.get(f"/organization/members?sort={sort}&q=x.test", htmx=True).get_data(as_text=True)) == order


@pytest.mark.parametrize("sort", ["name", "-name", "department", "status"])
def test_a_search_with_many_matches_pages_in_the_same_order(
    app: Any, console: Console, sortable: None, monkeypatch: Any, sort: str
) -> None:
    """Past SORT_MATCHES_UP_TO matches the page walks the sort's index instead of sorting the matches."""
    from portal.core import member_list

    expected = _names(console.get(f"/organization/members?sort={sort}").get_data(as_text=True))
    monkeypatch.setattr(member_list, "SORT_MATCHES_UP_TO", 1)
    monkeypatch.setattr(member_list, "WALK_PAST", 1)
    assert _names(console.get(f"/organization/members?sort={sort}&q=x.test").get_data(as_text=True)) == expected
    zeta = console_org_department(app, "Zeta")
    in_zeta = [name for name in expected if name in ("Bo", "Dee")]
    assert _names(console.get(f"/organization/members?sort={sort}&department={zeta}").get_data(as_text=True)) == in_zeta


def console_org_department(app: Any, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Department.id).where(Department.name == name))


def test_the_department_order_follows_a_rename_and_a_move(app: Any, console: Console, sortable: None) -> None:
    org_id = console_org(app)
    with app.app_context():
        # "alpha" becomes "Zulu": Al sorts after Bo; Dee (in Zeta and Zulu) now sorts by Zeta, next to Bo.
        departments.update_department(org_id, console_org_department(app, "alpha"), Actor.cli(), name="Zulu")
        db.session.commit()
    assert _names(console.get("/organization/members?sort=department").get_data(as_text=True)) == [
        "Cy",
        "Bo",
        "Dee",
        "Al",
    ]
    with app.app_context():
        # Cy joins Zulu by hand, Bo leaves Zeta for no department.
        members.update_member(
            org_id, _member_by_name(app, "Cy"), {"department_ids": [console_org_department(app, "Zulu")]}, Actor.cli()
        )
        members.update_member(org_id, _member_by_name(app, "Bo"), {"department_ids": []}, Actor.cli())
        db.session.commit()
    assert _names(console.get("/organization/members?sort=department").get_data(as_text=True)) == [
        "Bo",
        "Dee",
        "Al",
        "Cy",
    ]


def test_the_status_order_puts_the_suspended_last(app: Any, console: Console, sortable: None) -> None:
    with app.app_context():
        members.set_member_active(console_org(app), _member_by_name(app, "Al"), False, Actor.cli())
        db.session.commit()
    html = console.get("/organization/members?sort=status").get_data(as_text=True)
    assert _names(html) == ["Bo", "Cy", "Al", "Dee"]


def test_sort_headers_are_links_and_the_order_stays_in_the_url_pages_and_export(
    app: Any, console: Console, org: Any
) -> None:
    with app.app_context():
        for i in range(60):
            members.create_member(
                org.id,
                {"external_id": f"u{i:02}@x.test", "email": f"u{i:02}@x.test", "name": f"User {i:02}"},
                Actor.cli(),
            )
        db.session.commit()
    page = console.get("/organization/members?q=user").get_data(as_text=True)
    # By name, ascending: the Name header says so and its link sorts descending.
    assert re.search(r'<th scope="col" class="th-sort" aria-sort="ascending">\s*<a href="[^"]*sort=-name"', page)
    assert 'href="/organization/members?q=user&amp;sort=department"' in page
    assert 'href="/organization/members?q=user&amp;sort=status"' in page
    assert '<option value="name" selected>Name, A to Z</option>' in page
    desc = console.get("/organization/members?q=user&sort=-name").get_data(as_text=True)
    assert _names(desc)[:2] == ["User 59", "User 58"]
    assert 'aria-sort="descending"' in desc
    assert 'href="/organization/members?page=2&amp;q=user&amp;sort=-name"' in desc
    assert 'href="/organization/members/export.csv?q=user&amp;sort=-name"' in desc
    assert '<option value="-name" selected>Name, Z to A</option>' in desc
    assert _names(console.get("/organization/members?q=user&sort=-name&page=2").get_data(as_text=True))[0] == "User 09"
    # A fragment (search as you type, a header's click) brings the form's Sort by and the export link along.
    fragment = console.get("/organization/members?q=user+5&sort=-name", htmx=True).get_data(as_text=True)
    assert fragment.startswith('<section id="member-results"')
    assert '<div class="filter" id="member-sort-filter" hx-swap-oob="true">' in fragment
    assert '<option value="-name" selected>' in fragment
    assert re.search(
        r'href="/organization/members/export.csv\?q=user(\+|%20)5&amp;sort=-name"[^>]*hx-swap-oob="true"', fragment
    )


# ---------------------------------------------------------------- CSV export


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'attachment; filename="members.csv"' == response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_export_writes_the_members_the_list_shows(app: Any, console: Console, people: Any) -> None:
    rows = _csv(console.get("/organization/members/export.csv?q=smith&sort=-name"))
    assert rows[0] == [
        "Name",
        "Email",
        "User ID (userName)",
        "Employee ID",
        "Department",
        "Job title",
        "Workforce type",
        "Status",
        "Data source",
        "SCIM id",
    ]
    assert [r[0] for r in rows[1:]] == ["Paul Goldsmith", "Anna Smith"]
    anna = rows[2]
    assert anna[:4] == ["Anna Smith", "anna.smith@acme.com", "anna.smith@acme.com", ""]
    assert anna[5:9] == ["Staff Engineer", "", "Active", "Admin Console"]
    everyone = _csv(console.get("/organization/members/export.csv"))
    assert len(everyone) == 7
    sam = next(r for r in everyone if r[0] == "Sam Synced")
    assert sam[3] == "S-100" and sam[5] == "Platform Wizard" and sam[9] == people["sam"]["id"]
    assert sam[8].startswith("SCIM data source (")


def test_the_export_neutralises_formulas(app: Any, console: Console, org: Any) -> None:
    _hand(app, org.id, "f1@x.test", '=HYPERLINK("http://evil")')
    _hand(app, org.id, "f2@x.test", "+1 Plus", employee_id="-5")
    _hand(app, org.id, "f3@x.test", "@SUM(A1)")
    rows = _csv(console.get("/organization/members/export.csv"))
    names = {r[0] for r in rows[1:]}
    assert names == {'\'=HYPERLINK("http://evil")', "'+1 Plus", "'@SUM(A1)"}
    assert next(r for r in rows if r[0] == "'+1 Plus")[3] == "'-5"


def test_the_export_reads_in_batches_not_a_query_per_member(app: Any, console: Console, org: Any) -> None:
    def statements() -> int:
        count = 0

        def counted(*_: Any) -> None:
            nonlocal count
            count += 1

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", counted)
        try:
            assert console.get("/organization/members/export.csv").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        return count

    for i in range(3):
        _hand(app, org.id, f"a{i}@x.test", f"A {i}", job_title=f"T{i}")
    few = statements()
    for i in range(3, 40):
        _hand(app, org.id, f"a{i}@x.test", f"A {i}", job_title=f"T{i}")
    assert statements() == few
    assert len(_csv(console.get("/organization/members/export.csv"))) == 41


def test_the_export_reaches_job_titles_by_key_whatever_the_statistics(app: Any, console: Console, org: Any) -> None:
    """With statistics taken while the organization had one job title, SQLite planned the export's outer
    join to job_titles as a scan of it, for every member exported once titles had grown: the export looks
    titles (and employee types and sources) up by key instead (as the SCIM member read does)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's planner: PostgreSQL scales its statistics to a table's current size")
        engine = db.engine
    _hand(app, org.id, "only@x.test", "Only Title", job_title="The Title")
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # one job title
    for i in range(40):
        _hand(app, org.id, f"t{i}@x.test", f"Titled {i}", job_title=f"Title {i}")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "job_titles" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        export = _csv(console.get("/organization/members/export.csv"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(export) == 42 and "Title 39" in {cell for row in export for cell in row}
    assert seen  # the export's batch
    with engine.connect() as conn:
        for statement, parameters in seen:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            assert not [line for line in plan if re.match(r"SCAN job_titles", line)], (statement, plan)


def test_the_export_needs_the_permission_to_view_members(app: Any, client: Any, org: Any) -> None:
    make_admin(app, org, "logs@acme.test", {"admin_log"}, password="another long password 1")
    viewer = Console(client)
    viewer.login("logs@acme.test", "another long password 1")
    assert viewer.get("/organization/members/export.csv").status_code == 403
    make_admin(app, org, "dir@acme.test", {"directory"}, password="another long password 2")
    other = Console(app.test_client())
    other.login("dir@acme.test", "another long password 2")
    assert other.get("/organization/members/export.csv").status_code == 200


def test_the_members_page_has_the_export_button(app: Any, console: Console, org: Any) -> None:
    html = console.get("/organization/members?q=ann&status=active").get_data(as_text=True)
    assert re.search(
        r'<a class="btn btn-secondary" href="/organization/members/export.csv\?q=ann&amp;status=active"', html
    )
    assert 'id="member-export" download' in html


# ---------------------------------------------------------------- SQLite: the index learns in batches


def _waiting_now() -> int:
    """How many members the search index is not up to date for (in an app context)."""
    return int(db.session.scalar(select(func.count()).select_from(search_index.waiting().subquery())))


def _waiting(app: Any) -> int:
    with app.app_context():
        return _waiting_now()


@pytest.fixture
def held_batches(app: Any) -> Iterator[Callable[[], None]]:
    """SQLite: this process's checkpoint thread indexes nothing until the test calls the fixture's value,
    which indexes every change then (portal.infra.search_index)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's FTS5 index only: PostgreSQL's trigram index is kept by the database")
        path = db.engine.url.database
    queue = sqlite_writes.queue_for(path)
    assert queue is not None
    background, queue.background = queue.background, []

    def index_now() -> None:
        queue.background = background
        try:
            sqlite_writes.finish_background(path)
        finally:
            queue.background = []

    yield index_now
    queue.background = background


def test_a_queued_member_is_found_by_its_words_now_and_after_its_batch(
    app: Any, console: Console, people: Any, held_batches: Callable[[], None]
) -> None:
    held_batches()
    assert _waiting(app) == 0
    quinn = _hand(app, console_org(app), "quinn@acme.com", "Queued Quinn")
    assert _waiting(app) == 1
    assert _search(console, "queued qu") == ["Queued Quinn"]
    # Renamed before the index ever held it, then after: the old words find nobody either way.
    with app.app_context():
        members.update_member(console_org(app), quinn, {"name": "Quentin Blake"}, Actor.cli())
        db.session.commit()
    assert _search(console, "queued") == [] and _search(console, "blake") == ["Quentin Blake"]
    held_batches()
    assert _waiting(app) == 0
    assert _search(console, "queued") == [] and _search(console, "blake") == ["Quentin Blake"]
    with app.app_context():
        members.update_member(console_org(app), quinn, {"name": "Quincy Adams"}, Actor.cli())
        db.session.commit()
    # The index still holds "blake" for this member until the batch: the member's current text wins.
    assert _waiting(app) == 1
    assert _search(console, "blake") == [] and _search(console, "adams") == ["Quincy Adams"]
    assert _search(console, "smith") == ["Anna Smith", "Paul Goldsmith"]  # the indexed ones, as before
    with app.app_context():
        members.delete_member(console_org(app), quinn, Actor.cli())
        db.session.commit()
    assert _search(console, "adams") == [] and _search(console, "quinn@") == []
    held_batches()
    _fts_intact(app)
    assert _search(console, "adams") == [] and _search(console, "blake") == []


def test_the_background_thread_indexes_the_changes_on_its_own(app: Any, org: Any) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's FTS5 index only")
    _hand(app, org.id, "tess@acme.com", "Threaded Tess")
    deadline = time.monotonic() + 10
    while _waiting(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _waiting(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT rowid FROM search.member_search WHERE member_search MATCH 'threaded'"))


def test_a_process_that_exits_indexes_what_it_queued(
    app: Any, database_url: str, org: Any, held_batches: Callable[[], None]
) -> None:
    """A CLI command's members are indexed before it exits, not left queued for another process's thread
    (this process's own thread is held, so only the exiting one can index them)."""
    held_batches()
    script = (
        "from portal import create_app\n"
        "from portal.core import members\n"
        "from portal.core.actors import Actor\n"
        "from portal.extensions import db\n"
        "from tests.conftest import _config\n"
        f"app = create_app(_config({database_url!r}))\n"
        "with app.app_context():\n"
        f"    members.create_member({org.id}, {{'external_id': 'cli@acme.com', 'email': 'cli@acme.com',"
        " 'name': 'Exiting Eve'}, Actor.cli())\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=Path(__file__).parents[2])
    assert _waiting(app) == 0
    with app.app_context():
        found = db.session.scalar(sa.text("SELECT rowid FROM search.member_search WHERE member_search MATCH 'exiting'"))
        assert found == db.session.scalar(select(Member.id).where(Member.name == "Exiting Eve"))
    _fts_intact(app)


@contextmanager
def _fresh_sqlite(database_url: str) -> Iterator[tuple[Any, str]]:
    """SQLite: an app on a new database migrated to the head, and its URL; the files go afterwards."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's search file only")
    from flask_migrate import upgrade

    url, cleanup = _fresh_database(database_url)
    try:
        fresh = create_app(_config(url))
        with fresh.app_context():
            upgrade()
        yield fresh, url
        with fresh.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


def _index_all(path: str) -> None:
    """Index every change now, from a connection of the test's own (SQLite)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        while search_index.catch_up(connection, lambda write: write()):
            pass
    finally:
        connection.close()


def test_the_downgrades_queue_every_member_then_build_the_index_of_migration_0008_again(
    app: Any, database_url: str
) -> None:
    """Migration 0012 down: 0011's queue holds every member. 0011 down: 0008's FTS5 table is built from every
    member, and its triggers keep it in step again. Up again: the search file, numbered before, learns every
    member again instead of trusting its old number."""
    from flask_migrate import downgrade, upgrade

    with _fresh_sqlite(database_url) as (fresh, _url), fresh.app_context():
        path = db.engine.url.database
        queue = sqlite_writes.queue_for(path)
        assert queue is not None
        queue.background = []  # this process's thread stays out: the test indexes
        org = make_org(fresh, "Queued Org", "owner@queued.test")
        _hand(fresh, org.id, "ursula@queued.test", "Ursula Down")
        _hand(fresh, org.id, "victor@queued.test", "Victor Down")
        assert _waiting_now() == 2
        _index_all(path)
        assert _waiting_now() == 0
        db.session.remove()
        downgrade(revision="0011")
        assert sa.inspect(db.engine).has_table("member_search_changes") is False
        assert db.session.scalar(sa.text("SELECT count(*) FROM member_search_pending")) == 2
        db.session.remove()
        downgrade(revision="0010")
        assert sa.inspect(db.engine).has_table("member_search_pending") is False
        _hand(fresh, org.id, "walt@queued.test", "Walt Down")
        members.update_member(org.id, _member_by_name(fresh, "Ursula Down"), {"name": "Ursula Up"}, Actor.cli())
        db.session.commit()
        matched = db.session.scalars(
            sa.text("SELECT rowid FROM main.member_search WHERE member_search MATCH 'down' ORDER BY rowid")
        ).all()
        assert matched == sorted([_member_by_name(fresh, "Victor Down"), _member_by_name(fresh, "Walt Down")])
        db.session.execute(sa.text("INSERT INTO main.member_search(member_search, rank) VALUES ('integrity-check', 1)"))
        db.session.remove()
        upgrade()
        # Up again, the changes are numbered from the members' ids, below the number the search file
        # recorded: under the new epoch, every member waits, Ursula's rename among them.
        assert _waiting_now() == 3
        _index_all(path)
        rows, _ = member_list.list_members(org.id, member_list.MemberFilter(search="down"), limit=10, offset=0)
        assert [m.name for m in rows] == ["Victor Down", "Walt Down"]
        _fts_intact(fresh)
        db.session.remove()


def test_a_lost_search_file_is_built_again_from_the_members(app: Any, database_url: str) -> None:
    """The search file holds nothing the main file cannot rebuild: made again when missing, it is indexed
    through nothing, so it learns every member, not only the one changed since."""
    with _fresh_sqlite(database_url) as (fresh, url):
        with fresh.app_context():
            path = db.engine.url.database
            org = make_org(fresh, "Lost Org", "owner@lost.test")
            _hand(fresh, org.id, "yara@lost.test", "Yara Found")
            _hand(fresh, org.id, "zoltan@lost.test", "Zoltan Found")
            _fts_intact(fresh)
            db.session.remove()
            db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(search_index.search_path(path) + suffix):
                os.remove(search_index.search_path(path) + suffix)
        again = create_app(_config(url))
        queue = sqlite_writes.queue_for(path)
        assert queue is not None
        queue.background = []  # this process's thread stays out: the turn below is the first
        with again.app_context():
            assert db.session.scalar(sa.text("SELECT count(*) FROM search.member_search_indexed")) == 0
            # The new file is indexed through nothing: every member waits, and the search reads their text.
            members.update_member(org.id, _member_by_name(again, "Zoltan Found"), {"name": "Zoltan Lost"}, Actor.cli())
            db.session.commit()
            assert _waiting_now() == 2
            rows, _ = member_list.list_members(org.id, member_list.MemberFilter(search="found"), limit=10, offset=0)
            assert [m.name for m in rows] == ["Yara Found"]
            connection = sqlite3.connect(path, isolation_level=None)
            try:
                search_index.catch_up(connection, lambda write: write())
            finally:
                connection.close()
            assert _waiting_now() == 0
            rows, _ = member_list.list_members(org.id, member_list.MemberFilter(search="found"), limit=10, offset=0)
            assert [m.name for m in rows] == ["Yara Found"]
            _fts_intact(again)
            db.session.remove()
            db.engine.dispose()


def test_a_member_changed_while_its_batch_was_indexed_waits_for_the_next(
    app: Any, org: Any, held_batches: Callable[[], None]
) -> None:
    """A batch reads the changes from one snapshot and moves the search file's number to the last change it
    read: a member renamed while the batch writes the index has a higher number, so it still waits, and the
    next batch indexes its new text. The batch writes nothing to the main file, and no longer reads it while
    it writes the index: a RESTART of the main file's log, which waits for every reader holding the write
    lock, goes through at once."""
    held_batches()
    zed = _hand(app, org.id, "zed@acme.com", "Zed Before")
    with app.app_context():
        path = db.engine.url.database
    connection = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA busy_timeout=200")  # a reader still on the log keeps each try busy this long
    renamed: list[str] = []
    restarts: list[tuple[int, int, int]] = []

    def rename_once(statement: str) -> None:
        if not renamed and statement.startswith("INSERT INTO search.member_search(rowid"):
            renamed.append(statement)
            other.execute("UPDATE members SET search_text = 'zed after' WHERE id = ?", (zed,))
            # SQLite answers busy at once while another checkpoint runs (the app's checkpoint thread): try again.
            for _ in range(10):
                restarts.append(other.execute("PRAGMA main.wal_checkpoint(RESTART)").fetchone())
                if restarts[-1][0] == 0:
                    break
                time.sleep(0.05)

    def no_main_write(write: Callable[[], int]) -> int:
        raise AssertionError("a batch without deleted members wrote the main file")

    try:
        search_index.attach(connection, path)
        connection.set_trace_callback(rename_once)
        assert search_index.index_batch(connection, no_main_write) == 1
        connection.set_trace_callback(None)
        assert renamed
        assert restarts[-1][0] == 0  # not busy: no reader left on the log
        assert _waiting(app) == 1
        held = "SELECT search_text FROM search.member_search_indexed WHERE member_id = ?"
        assert connection.execute(held, (zed,)).fetchone() == ("zed before\nzed@acme.com",)
        assert search_index.index_batch(connection, no_main_write) == 1
        assert connection.execute(held, (zed,)).fetchone() == ("zed after",)
        assert _waiting(app) == 0
    finally:
        connection.close()
        other.close()
    _fts_intact(app)
