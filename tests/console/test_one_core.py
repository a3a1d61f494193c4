"""One core, two doors: a member sent through the console and through SCIM is written by one writer.

The same person is added in the console (Member and Department › Add member) of one
organization and pushed by a sync source (RFC 7644 §3.3 POST, then §3.5.1 PUT) into
another; the member rows and the changes in their log rows must agree field by field.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AdminLog, Department, Member, SyncLog, WorkforceType
from tests.conftest import Console
from tests.factories import make_org
from tests.scim.conftest import ENTERPRISE, USER_SCHEMA, Scim, add_source

pytestmark = pytest.mark.both_databases

#: a member row's columns that name the row itself or its door, not the person
_IDENTITY = {
    "id",
    "public_id",
    "org_id",
    "source_id",
    "created_at",
    "updated_at",
    "job_title_id",
    "employee_type_id",
    "manager_id",
    "custom_fields",
}
#: what only SCIM carries: the raw userType, the provider's externalId and the manager reference
#: what only the SCIM door carries; the multi-valued entries as sent (issue 18) too
_SCIM_ONLY = {"user_type", "scim_external_id", "manager", "manager_ref", "emails", "phone_numbers", "addresses"}

ADA = {
    "external_id": "ada@example.test",
    "email": "ada@example.test",
    "name": "Ada Lovelace",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "another_name": "Countess",
    "employee_id": "E-1",
    "work_country": "GB",
    "mobile": "+44 20 7946 0000",
    "job_title": "Engineer",
}


def _scim_user(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": values["external_id"],
        "displayName": values["name"],
        "nickName": values["another_name"],
        "name": {"givenName": values["first_name"], "familyName": values["last_name"]},
        "emails": [{"value": values["email"], "type": "work", "primary": True}],
        "phoneNumbers": [{"value": values["mobile"], "type": "work"}],
        "addresses": [{"type": "work", "country": values["work_country"]}],
        "title": values["job_title"],
        "userType": "Regular",
        ENTERPRISE: {"employeeNumber": values["employee_id"], "department": "Engineering"},
    }


def _row(app: Any, org_id: int) -> dict[str, Any]:
    """The organization's one member as plain values, references by name."""
    with app.app_context():
        member = db.session.scalar(sa.select(Member).where(Member.org_id == org_id))
        assert member is not None
        row = {c.key: getattr(member, c.key) for c in Member.__table__.columns if c.key not in _IDENTITY | _SCIM_ONLY}
        row.update(
            job_title=member.job_title.name if member.job_title else None,
            employee_type=member.employee_type.name if member.employee_type else None,
            departments=[d.name for d in member.departments],
        )
        return row


def _admin_changes(app: Any, org_id: int, event_type: str) -> dict[str, Any]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AdminLog).where(AdminLog.org_id == org_id, AdminLog.event_type == event_type)
        ).all()
        assert len(rows) == 1, [r.event_type for r in rows]
        return rows[0].changes


def _sync_changes(app: Any, org_id: int, operation: str) -> dict[str, Any]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(SyncLog).where(SyncLog.org_id == org_id, SyncLog.operation == operation)
        ).all()
        assert len(rows) == 1, [r.operation for r in rows]
        return rows[0].changes


def _same_changes(console: dict[str, Any], scim: dict[str, Any]) -> None:
    """The console's Admin log changes are the Sync log's, less what only SCIM carries."""
    assert console == {key: value for key, value in scim.items() if key not in _SCIM_ONLY}
    assert set(scim) - set(console) <= _SCIM_ONLY


def _form(app: Any, org_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The Add member / Edit member form as an administrator fills it in."""
    with app.app_context():
        department = db.session.scalar(
            sa.select(Department.id).where(Department.org_id == org_id, Department.name == "Engineering")
        )
        regular = db.session.scalar(
            sa.select(WorkforceType.id).where(WorkforceType.org_id == org_id, WorkforceType.name == "regular employee")
        )
    return {**values, "department_id": str(department), "employee_type_id": str(regular)}


def test_a_member_through_the_console_and_through_scim_is_one_row_and_one_log_change_rfc7644_3_3(
    app: Any, client: Any, runner: Any
) -> None:
    by_hand = make_org(app, name="Console Co", email="owner@console.test")
    synced = make_org(app, name="Scim Co", email="owner@scim.test")
    console = Console(client)
    assert console.login(by_hand.email, by_hand.password).status_code == 302
    # The console picks an existing department; the identity provider names one that the create makes.
    assert console.post("/organization/members/departments/new", {"name": "Engineering"}).status_code in (200, 302)
    source = add_source(runner, synced.name, "--activate", "--workforce-rule", "Regular=regular employee")
    scim = Scim(app.test_client(), source)

    # Create: POST /organization/members/new and POST /Users.
    assert console.post("/organization/members/new", _form(app, by_hand.id, ADA)).status_code == 302
    created = scim.post("/Users", _scim_user(ADA))
    assert created.status_code == 201, created.get_json()
    assert _row(app, by_hand.id) == _row(app, synced.id)
    assert _row(app, synced.id)["departments"] == ["Engineering"]
    _same_changes(_admin_changes(app, by_hand.id, "Add member"), _sync_changes(app, synced.id, "create"))

    # Update: the Edit member form and PUT /Users/{id} (RFC 7644 §3.5.1) with the same new values.
    renamed = {**ADA, "name": "Ada King", "last_name": "King", "mobile": "+44 20 7946 0001", "job_title": "Lead"}
    with app.app_context():
        member_id = db.session.scalar(sa.select(Member.id).where(Member.org_id == by_hand.id))
    assert console.post(f"/organization/members/{member_id}/edit", _form(app, by_hand.id, renamed)).status_code == 302
    updated = scim.put(f"/Users/{created.get_json()['id']}", _scim_user(renamed))
    assert updated.status_code == 200, updated.get_json()
    assert _row(app, by_hand.id) == _row(app, synced.id)
    assert _row(app, by_hand.id)["name"] == "Ada King"
    _same_changes(_admin_changes(app, by_hand.id, "Edit member"), _sync_changes(app, synced.id, "update"))


def test_both_doors_refuse_a_taken_email_in_any_case_and_write_nothing_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any
) -> None:
    console = Console(client)
    assert console.login(org.email, org.password).status_code == 302
    source = add_source(runner, org.name, "--activate")
    scim = Scim(app.test_client(), source)
    assert scim.post("/Users", _scim_user(ADA)).status_code == 201

    refused = console.post(
        "/organization/members/new",
        {**ADA, "external_id": "other@example.test", "email": "ADA@Example.TEST", "employee_id": "E-2"},
    )
    assert refused.status_code == 422
    assert "This email is already used by another member" in refused.get_data(as_text=True)
    # The same person pushed by SCIM in another case is the same conflict (userName and email).
    clash = scim.post(
        "/Users",
        {
            **_scim_user({**ADA, "external_id": "ADA@EXAMPLE.TEST", "employee_id": "E-3"}),
            "emails": [{"value": "Ada@Example.Test", "type": "work"}],
        },
    )
    assert clash.status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Member.id))) == 1


def test_a_field_edited_by_hand_drops_the_entries_it_was_derived_from_rfc7643_4_1_2(
    app: Any, client: Any, runner: Any, org: Any
) -> None:
    """A member a source unlinked (Suspend member) and an admin then edits: the mobile typed by hand
    replaces the provider's phoneNumbers, which no longer describe it; the emails, not edited, stay."""
    console = Console(client)
    assert console.login(org.email, org.password).status_code == 302
    scim = Scim(app.test_client(), add_source(runner, org.name, "--activate"))
    phones = [{"value": "+1 555 0100", "type": "mobile"}, {"value": "+1 555 0199", "type": "work"}]
    created = scim.post("/Users", {**_scim_user(ADA), "phoneNumbers": phones})
    assert created.status_code == 201, created.get_json()
    assert scim.delete(f"/Users/{created.get_json()['id']}").status_code == 204  # unlinked, kept as Inactive
    with app.app_context():
        member = db.session.scalar(sa.select(Member))
        assert member.source_id is None and member.phone_numbers == phones
        member_id = member.id
    edit = {key: value for key, value in ADA.items() if key != "job_title"}
    response = console.post(f"/organization/members/{member_id}/edit", {**edit, "mobile": "+1 555 0123"})
    assert response.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.mobile == "+1 555 0123"
        assert member.phone_numbers is None
        assert member.emails == [{"value": ADA["email"], "type": "work", "primary": True}]
    details = console.get(f"/organization/members/{member_id}").get_data(as_text=True)
    assert "+1 555 0199" not in details and "+1 555 0123" in details
