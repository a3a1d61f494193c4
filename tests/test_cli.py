"""Operator commands: organizations, administrators and the demo set-up of `make run`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import Admin, AdminLog, Department, Field, Organization, WorkforceType

pytestmark = pytest.mark.both_databases


def test_org_create_makes_the_org_its_defaults_and_primary_admin(app, runner):
    result = runner.invoke(
        args=[
            "org",
            "create",
            "Acme",
            "--admin-email",
            "Owner@Acme.test",
            "--admin-password",
            "correct horse battery staple",
        ]
    )
    assert result.exit_code == 0, result.output
    org_id = int(result.output.strip())
    with app.app_context():
        org = db.session.get(Organization, org_id)
        assert org.name == "Acme"
        names = set(db.session.scalars(sa.select(WorkforceType.name).where(WorkforceType.org_id == org_id)))
        assert names == {"regular employee", "intern", "consultant", "contractor"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Field).where(Field.org_id == org_id)) == 12
        root = db.session.scalar(sa.select(Department).where(Department.org_id == org_id))
        assert root.parent_id is None and root.name == "Acme"
        admin = db.session.scalar(sa.select(Admin).where(Admin.org_id == org_id))
        assert admin.role == "primary" and admin.email == "Owner@Acme.test"
        assert admin.password_hash != "correct horse battery staple"
        assert check_password_hash(admin.password_hash, "correct horse battery staple")
        entries = list(db.session.scalars(sa.select(AdminLog).where(AdminLog.org_id == org_id).order_by(AdminLog.id)))
        assert [(e.actor, e.event_type) for e in entries] == [
            ("CLI", "Add administrator"),
            ("CLI", "Create organization"),
        ]
        added = entries[0]
        assert (added.target_type, added.target_id, added.target_name) == ("admin", str(admin.id), "Owner@Acme.test")
        # No name was given; the primary holds every permission.
        assert added.changes == {
            "permissions": [
                None,
                ["Organization data synchronization", "Administrator log", "Members and departments", "API keys"],
            ]
        }
        assert added.summary == "Primary administrator of the new organization"


def test_a_second_org_with_the_same_name_is_refused(app, runner):
    args = ["--admin-password", "correct horse battery staple"]
    assert runner.invoke(args=["org", "create", "Acme", "--admin-email", "a@acme.test", *args]).exit_code == 0
    result = runner.invoke(args=["org", "create", "ACME", "--admin-email", "b@acme.test", *args])
    assert result.exit_code == 1
    assert "already exists" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1


def test_admin_create_grants_the_named_permissions(app, runner, org):
    result = runner.invoke(
        args=[
            "admin",
            "create",
            "--org",
            org.name,
            "--email",
            "sync@acme.test",
            "--password",
            "another long password",
            "--permission",
            "org_data_sync",
            "--permission",
            "admin_log",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.get(Admin, int(result.output.strip()))
        assert admin.role == "admin"
        assert admin.permissions == {"org_data_sync", "admin_log"}


def _row(app, email: str, target_id: str | None = None) -> dict:
    """The "Add administrator" entry of ``email`` (of the admin ``target_id``) as plain values, one per column."""
    with app.app_context():
        stmt = sa.select(AdminLog).where(AdminLog.event_type == "Add administrator", AdminLog.target_name == email)
        if target_id is not None:
            stmt = stmt.where(AdminLog.target_id == target_id)
        [entry] = db.session.scalars(stmt)
        return {column.key: getattr(entry, column.key) for column in AdminLog.__table__.columns}


def test_admin_create_logs_the_entry_adding_one_in_the_console_logs_issue_7(app, runner, org):
    """One administrator, added once in Settings > Administrators and once with `flask admin create`: the two
    "Add administrator" entries differ only in who acted, the new admin's id, when, and the console's delivery."""
    from tests.conftest import Console

    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    response = console.post(
        "/settings/administrators/new",
        {
            "name": "Sam Sync",
            "email": "sam@acme.test",
            "permissions": ["org_data_sync", "admin_log"],
            "delivery": "password",
        },
    )
    assert response.status_code == 200
    in_console = _row(app, "sam@acme.test")
    # Emails are unique across organizations: move the first Sam to another address (the entry keeps the name
    # it was written with) and add Sam again from the command line.
    with app.app_context():
        db.session.get(Admin, int(in_console["target_id"])).email = "sam.before@acme.test"
        db.session.commit()
    result = runner.invoke(
        args=[
            "admin",
            "create",
            "--org",
            org.name,
            "--email",
            "sam@acme.test",
            "--name",
            "Sam Sync",
            "--password",
            "another long password",
            "--permission",
            "org_data_sync",
            "--permission",
            "admin_log",
        ]
    )
    assert result.exit_code == 0, result.output
    cli_admin_id = int(result.output.strip())
    from_cli = _row(app, "sam@acme.test", target_id=str(cli_admin_id))

    same = ["org_id", "event_type", "category", "target_type", "target_name", "changes"]
    assert {k: from_cli[k] for k in same} == {k: in_console[k] for k in same}
    assert from_cli["event_type"] == "Add administrator" and from_cli["target_type"] == "admin"
    assert from_cli["target_name"] == "sam@acme.test"
    assert from_cli["changes"] == {
        "name": [None, "Sam Sync"],
        "permissions": [None, ["Organization data synchronization", "Administrator log"]],
    }
    # The actor: the signed-in primary in the console, the CLI (no administrator, no address) from the command line.
    assert (in_console["actor"], in_console["admin_id"]) == (org.email, org.admin_id)
    assert in_console["ip"] is not None
    assert (from_cli["actor"], from_cli["admin_id"], from_cli["ip"]) == ("CLI", None, None)
    # Each entry names the administrator it added; only the console chose how the password was handed over.
    assert from_cli["target_id"] == str(cli_admin_id) != in_console["target_id"]
    assert in_console["summary"] == "Initial password shown once" and from_cli["summary"] is None
    compared = set(same) | {"actor", "admin_id", "ip", "target_id", "summary", "id", "created_at"}
    assert compared == set(from_cli), "a new column of the admin log: compare it here too"


def test_admin_create_for_an_unknown_org_fails_cleanly(runner):
    result = runner.invoke(
        args=["admin", "create", "--org", "Nope", "--email", "x@nope.test", "--password", "another long password"]
    )
    assert result.exit_code == 1
    assert "No organization named" in result.output


def test_demo_creates_the_demo_org_once_and_prints_working_credentials(app, runner, client):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    email = first.output.split("email:")[1].split()[0]
    password = first.output.split("password:")[1].split()[0]
    second = runner.invoke(args=["demo"])
    assert "exists already" in second.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1
    from tests.conftest import Console

    assert Console(client).login(email, password).status_code == 302
