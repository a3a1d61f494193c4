"""The seed's uniqueness rules are held by the database itself and reported by the domain as named errors.

Seed, FAQ table: userName (ExternalID) "Required, unique within the organization", email "Required,
unique within the organization", EmployeeNumber "Unique within the organization".
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.core import departments, members
from portal.core.actors import Actor
from portal.core.errors import Conflict
from portal.extensions import db
from portal.models import Admin, Department, JobTitle, Member, UserGroup
from tests.factories import make_org

pytestmark = pytest.mark.both_databases


def _member(org_id: int, n: int, **overrides) -> Member:
    values = {"external_id": f"user{n}@acme.test", "email": f"user{n}@acme.test", "name": f"User {n}"}
    values.update(overrides)
    return Member(org_id=org_id, status="active", custom_fields={}, **values)


def _insert_twice(first, second) -> None:
    db.session.add(first)
    db.session.commit()
    db.session.add(second)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    "overrides",
    [
        {"external_id": "USER1@ACME.TEST"},  # userName, case-insensitive
        {"email": "User1@Acme.Test"},  # email, case-insensitive
        {"employee_id": "E-1"},  # employee ID when present
    ],
)
def test_member_uniqueness_is_a_database_constraint_seed_faq(app, org, overrides):
    with app.app_context():
        first = _member(org.id, 1, employee_id="E-1")
        second = _member(org.id, 2, **overrides)
        _insert_twice(first, second)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 1


def test_members_without_employee_id_do_not_collide(app, org):
    with app.app_context():
        db.session.add_all([_member(org.id, 1), _member(org.id, 2)])
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 2


def test_the_same_user_name_in_two_organizations_is_fine(app, org):
    other = make_org(app, "Globex", "owner@globex.test")
    with app.app_context():
        db.session.add_all([_member(org.id, 1), _member(other.id, 1)])
        db.session.commit()


def test_department_name_is_unique_under_one_parent_only(app, org):
    with app.app_context():
        root = departments.root_department(org.id)
        sales = Department(org_id=org.id, parent_id=root.id, name="Sales")
        db.session.add(sales)
        db.session.commit()
        # Another "Sales" below Sales is a different place: allowed.
        db.session.add(Department(org_id=org.id, parent_id=sales.id, name="Sales"))
        db.session.commit()
        _insert_twice(
            Department(org_id=org.id, parent_id=root.id, name="Marketing"),
            Department(org_id=org.id, parent_id=root.id, name="MARKETING"),
        )


def test_group_display_name_and_job_title_are_unique_per_organization(app, org):
    with app.app_context():
        _insert_twice(
            UserGroup(org_id=org.id, display_name="Engineers"), UserGroup(org_id=org.id, display_name="engineers")
        )
        _insert_twice(JobTitle(org_id=org.id, name="Engineer"), JobTitle(org_id=org.id, name="ENGINEER"))


def test_one_primary_administrator_per_organization(app, org):
    with app.app_context():
        db.session.add(Admin(org_id=org.id, email="second@acme.test", password_hash="x", role="primary"))
        with pytest.raises(IntegrityError):
            db.session.commit()


@pytest.mark.parametrize(
    "field, overrides",
    [
        ("external_id", {"external_id": "FIRST@acme.test"}),
        ("email", {"email": "First@Acme.test"}),
        ("employee_id", {"employee_id": "E-1"}),
    ],
)
def test_domain_reports_a_uniqueness_violation_as_a_named_conflict(app, org, field, overrides):
    values = {"external_id": "first@acme.test", "email": "first@acme.test", "name": "First", "employee_id": "E-1"}
    with app.app_context():
        members.create_member(org.id, values, Actor.cli())
        db.session.commit()
        second = {"external_id": "second@acme.test", "email": "second@acme.test", "name": "Second", **overrides}
        with pytest.raises(Conflict) as caught:
            members.create_member(org.id, second, Actor.cli())
        assert caught.value.field == field
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 1


def test_domain_names_the_department_conflict(app, org):
    with app.app_context():
        departments.create_department(org.id, "Sales", Actor.cli())
        with pytest.raises(Conflict) as caught:
            departments.create_department(org.id, "sales", Actor.cli())
        assert caught.value.field == "name"
