"""Uniqueness that Unicode cannot fool (issue 18): names compare by ``models.norm``.

Composed and decomposed letters, fullwidth letters, "ß" and "ss", a zero-width character
inside a name: each pair is one name for userName, email and employee ID, through the SCIM
door, the console form and SCIM filters, for matching too. ``flask directory check-names``
lists the rows of a database not yet upgraded that migration 0004 would refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.command import upgrade as alembic_upgrade
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from portal.models import Member
from tests.conftest import TEST_DATABASE_URL, _config
from tests.scim.conftest import ENTERPRISE, USER_SCHEMA, Scim, add_source, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases

#: two forms of one name
FORMS = {
    "composed-vs-decomposed": ("\u00c4da", "A\u0308da"),
    "fullwidth": ("\uff21\uff24\uff21", "ada"),
    "sharp-s": ("stra\u00dfe", "strasse"),
    "zero-width-space": ("a\u200bda", "ada"),
}
#: member field -> (the SCIM attribute a 409 names, the console's label in "This ... is already used")
ATTRIBUTES = {
    "external_id": ("userName", "user ID (ExternalID)"),
    "email": ("email", "email"),
    "employee_id": ("employeeNumber", "employee ID"),
}


def _person(n: int, field: str, form: str) -> dict[str, str]:
    """Member values of person ``n``, all their own except ``field``, which holds ``form``."""
    values = {"external_id": f"user{n}@example.test", "email": f"user{n}@example.test", "employee_id": f"E-{n}"}
    values[field] = f"{form}-1" if field == "employee_id" else f"{form}@example.test"
    return {**values, "name": f"Person {n}"}


def _scim_user(values: dict[str, str]) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": values["external_id"],
        "displayName": values["name"],
        "emails": [{"value": values["email"], "type": "work", "primary": True}],
        ENTERPRISE: {"employeeNumber": values["employee_id"]},
    }


def _members(app: Any) -> list[Member]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Member).order_by(Member.id)))
        db.session.expunge_all()
        return rows


# ---------------------------------------------------------------- one member, whatever the form


@pytest.mark.parametrize("field", ATTRIBUTES)
@pytest.mark.parametrize("forms", FORMS.values(), ids=FORMS.keys())
def test_scim_refuses_another_form_of_a_taken_name_409_and_writes_nothing(
    app: Any, client: Any, runner: Any, org: Any, field: str, forms: tuple[str, str]
) -> None:
    scim = Scim(client, add_source(runner, org.name, "--activate"))
    assert scim.post("/Users", _scim_user(_person(1, field, forms[0]))).status_code == 201
    refused = scim.post("/Users", _scim_user(_person(2, field, forms[1])))
    body = assert_scim_error(refused, 409, "uniqueness")
    assert ATTRIBUTES[field][0] in body["detail"]
    assert [m.name for m in _members(app)] == ["Person 1"]


@pytest.mark.parametrize("field", ATTRIBUTES)
@pytest.mark.parametrize("forms", FORMS.values(), ids=FORMS.keys())
def test_console_form_refuses_another_form_of_a_taken_name_and_writes_nothing(
    app: Any, console: Any, field: str, forms: tuple[str, str]
) -> None:
    if field == "email" and "\u200b" in forms[0]:
        # An address holding a zero-width character is no address: the console refuses it before any
        # uniqueness check (issue 13, email-validator); SCIM keeps it as sent, tested above.
        refused = console.post("/organization/members/new", _person(1, field, forms[0]), htmx=True)
        assert refused.status_code == 422 and "Enter a valid email address" in refused.get_data(as_text=True)
        return
    assert console.post("/organization/members/new", _person(1, field, forms[0])).status_code == 302
    refused = console.post("/organization/members/new", _person(2, field, forms[1]), htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f"This {ATTRIBUTES[field][1]} is already used by another member" in html
    assert f'id="field-{field}-error"' in html
    assert [m.name for m in _members(app)] == ["Person 1"]


@pytest.mark.parametrize("forms", FORMS.values(), ids=FORMS.keys())
def test_a_filter_finds_the_member_by_any_form_of_its_user_name_and_email_rfc7644_3_4_2_2(
    app: Any, client: Any, runner: Any, org: Any, forms: tuple[str, str]
) -> None:
    scim = Scim(client, add_source(runner, org.name, "--activate"))
    created = scim.create_user(f"{forms[0]}@example.test")
    for form in forms:
        for attribute in ("userName", "emails.value"):
            found = scim.get("/Users", query_string={"filter": f'{attribute} eq "{form}@example.test"'}).get_json()
            assert [r["id"] for r in found["Resources"]] == [created["id"]], (attribute, form)


@pytest.mark.parametrize("forms", FORMS.values(), ids=FORMS.keys())
def test_match_attribute_email_links_a_console_member_whose_email_differs_only_in_form_seed_1_1_step_5(
    app: Any, client: Any, runner: Any, org: Any, console: Any, forms: tuple[str, str]
) -> None:
    # By hand the plain form (the console refuses an address with a zero-width character), from SCIM the other.
    by_hand = {"name": "Ada by hand", "external_id": "hand@example.test", "email": f"{forms[1]}@example.test"}
    assert console.post("/organization/members/new", by_hand).status_code == 302
    (hand_made,) = _members(app)
    scim = Scim(app.test_client(), add_source(runner, org.name, "--activate", "--match-attribute", "email"))
    email = f"{forms[0]}@example.test"
    response = scim.post("/Users", user("ada.scim@example.test", emails=[{"value": email, "type": "work"}]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == hand_made.public_id
    (member,) = _members(app)
    assert (member.id, member.external_id, member.email) == (hand_made.id, "ada.scim@example.test", email)
    assert member.source_id is not None
    (row,) = sync_logs(app)
    assert row.operation == "link" and "email" in row.notes[0]


# ---------------------------------------------------------------- flask directory check-names, migration 0004


def test_check_names_finds_nothing_on_an_upgraded_database(app: Any, runner: Any, org: Any) -> None:
    result = runner.invoke(args=["directory", "check-names"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "No names collide\n"


@pytest.fixture
def fresh_url(backend: str, tmp_path: Any) -> Iterator[str]:
    """An empty database of its own (the session's database is already at head)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    base = make_url(TEST_DATABASE_URL)
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_MEMBER_0003 = sa.text(
    "INSERT INTO members (id, public_id, org_id, external_id, external_id_norm, email, email_norm, employee_id,"
    " name, name_norm, status, custom_fields, created_at, updated_at, version)"
    " VALUES (:id, :public_id, 1, :external_id, :external_id_norm, :email, :email, :employee_id,"
    " :name, :name_norm, 'active', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
)


def _rows_at_0003() -> None:
    """Rows that revision 0003 (lower-cased norms) keeps apart and ``models.norm`` makes one name."""
    session = db.session
    for org_id, name in ((1, "Acme"), (2, "\uff21\uff23\uff2d\uff25")):
        session.execute(
            sa.text(
                "INSERT INTO organizations (id, name, name_norm, created_at) VALUES (:id, :n, :nn, CURRENT_TIMESTAMP)"
            ),
            {"id": org_id, "n": name, "nn": name.lower()},
        )
    for title_id, name in ((1, "Engineer"), (2, "Engi\u200bneer")):
        session.execute(
            sa.text(
                "INSERT INTO job_titles (id, org_id, name, name_norm, created_at)"
                " VALUES (:id, 1, :n, :nn, CURRENT_TIMESTAMP)"
            ),
            {"id": title_id, "n": name, "nn": name.lower()},
        )
    for member_id, user_name, email, employee_id in (
        (1, "Stra\u00dfe@acme.test", "ada@acme.test", "\u00c4-1"),
        (2, "strasse@acme.test", "bob@acme.test", "A\u0308-1"),
    ):
        session.execute(
            _MEMBER_0003,
            {
                "id": member_id,
                "public_id": str(uuid.uuid4()),
                "external_id": user_name,
                "external_id_norm": user_name.lower(),
                "email": email,
                "employee_id": employee_id,
                "name": f"Person {member_id}",
                "name_norm": f"person {member_id}",
            },
        )
    session.commit()


#: what check-names prints for ``_rows_at_0003``, one line per name several rows share
_COLLISIONS = [
    "organizations.name (everywhere): #1 'Acme', #2 '\uff21\uff23\uff2d\uff25' are one name",
    "job_titles.name (org_id=1): #1 'Engineer', #2 'Engi\\u200bneer' are one name",
    "members.external_id (org_id=1): #1 'Stra\u00dfe@acme.test', #2 'strasse@acme.test' are one name",
    "members.employee_id (org_id=1): #1 '\u00c4-1', #2 'A\u0308-1' are one name",
]


def _revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_check_names_before_upgrading_and_migration_0004_refuses_until_the_names_are_apart(fresh_url: str) -> None:
    app = create_app(_config(fresh_url))
    runner = app.test_cli_runner()
    try:
        with app.app_context():
            upgrade(revision="0003")
            _rows_at_0003()

        # The command reads only the plain columns: it runs on the database still at 0003.
        result = runner.invoke(args=["directory", "check-names"])
        assert result.exit_code == 1
        assert result.stdout.splitlines() == _COLLISIONS
        assert result.stderr == (
            "Error: 4 names would collide once compared after Unicode normalization: "
            "rename or remove all but one of each, then run flask db upgrade\n"
        )

        with app.app_context():
            # alembic's own upgrade: flask_migrate's turns the RuntimeError into a logged message and exit 1.
            with pytest.raises(RuntimeError) as refused:
                alembic_upgrade(app.extensions["migrate"].migrate.get_config(), "head")
            for line in _COLLISIONS:
                assert line in str(refused.value)
            db.session.remove()
            assert _revision() == "0003"
            # Renamed apart (0003's lower-cased norms kept in step), the upgrade runs.
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE organizations SET name = 'Globex', name_norm = 'globex' WHERE id = 2"))
                conn.execute(
                    sa.text("UPDATE job_titles SET name = 'Engineering', name_norm = 'engineering' WHERE id = 2")
                )
                conn.execute(
                    sa.text(
                        "UPDATE members SET external_id = 'bob@acme.test', external_id_norm = 'bob@acme.test',"
                        " employee_id = 'E-2' WHERE id = 2"
                    )
                )

        result = runner.invoke(args=["directory", "check-names"])
        assert (result.exit_code, result.stdout) == (0, "No names collide\n")

        with app.app_context():
            upgrade()
            assert _revision() not in (None, "0003")
            with db.engine.connect() as conn:
                members = conn.execute(
                    sa.text("SELECT id, external_id_norm, employee_id_norm FROM members ORDER BY id")
                ).all()
                orgs = conn.execute(sa.text("SELECT name_norm FROM organizations ORDER BY id")).scalars().all()
                titles = conn.execute(sa.text("SELECT name_norm FROM job_titles ORDER BY id")).scalars().all()
            assert [tuple(row) for row in members] == [
                (1, "strasse@acme.test", "\u00e4-1"),
                (2, "bob@acme.test", "e-2"),
            ]
            assert orgs == ["acme", "globex"]
            assert titles == ["engineer", "engineering"]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
