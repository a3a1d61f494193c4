"""Operator commands: organizations, administrators and the demo set-up of `make run`."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import Admin, AdminLog, Department, Field, Organization, WorkforceType

pytestmark = pytest.mark.both_databases


def test_org_create_makes_the_org_its_defaults_and_primary_admin(app, runner):
    result = runner.invoke(args=["org", "create", "Acme", "--admin-email", "Owner@Acme.test",
                                 "--admin-password", "correct horse battery staple"])
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
        log = db.session.scalar(sa.select(AdminLog).where(AdminLog.org_id == org_id))
        assert log.actor == "CLI" and log.event_type == "Create organization"


def test_a_second_org_with_the_same_name_is_refused(app, runner):
    args = ["--admin-password", "correct horse battery staple"]
    assert runner.invoke(args=["org", "create", "Acme", "--admin-email", "a@acme.test", *args]).exit_code == 0
    result = runner.invoke(args=["org", "create", "ACME", "--admin-email", "b@acme.test", *args])
    assert result.exit_code == 1
    assert "already exists" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1


def test_admin_create_grants_the_named_permissions(app, runner, org):
    result = runner.invoke(args=["admin", "create", "--org", org.name, "--email", "sync@acme.test",
                                 "--password", "another long password", "--permission", "org_data_sync",
                                 "--permission", "admin_log"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.get(Admin, int(result.output.strip()))
        assert admin.role == "admin"
        assert admin.permissions == {"org_data_sync", "admin_log"}


def test_admin_create_for_an_unknown_org_fails_cleanly(runner):
    result = runner.invoke(args=["admin", "create", "--org", "Nope", "--email", "x@nope.test",
                                 "--password", "another long password"])
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
