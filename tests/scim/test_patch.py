"""PATCH of Users (RFC 7644 §3.5.2): ops, paths, path-less values, errors; checked on the final state."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member
from tests.scim.conftest import ENTERPRISE, PATCH_SCHEMA, Scim, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases


@pytest.fixture
def ann(scim: Scim) -> dict[str, Any]:
    return scim.create_user(
        "ann@acme.test",
        name={"givenName": "Ann", "familyName": "Lee"},
        phoneNumbers=[{"value": "+1", "type": "work"}],
        addresses=[{"country": "FR", "type": "work"}],
    )


def _row(app: Any) -> Member:
    with app.app_context():
        member = db.session.scalar(
            sa.select(Member).options(sa.orm.selectinload(Member.departments), sa.orm.joinedload(Member.job_title))
        )
        db.session.expunge_all()
        return member


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE", "add", "Add"])
def test_op_is_case_insensitive_rfc7644_3_5_2(app: Any, scim: Scim, ann: dict, op: str) -> None:
    response = scim.ops(f"/Users/{ann['id']}", {"op": op, "path": "nickName", "value": "Annie"})
    assert response.status_code == 200
    assert response.get_json()["nickName"] == "Annie"


def test_lowercase_operations_key_and_no_schemas_rfc7644_3_5_2(app: Any, scim: Scim, ann: dict) -> None:
    response = scim.patch(f"/Users/{ann['id']}", {"operations": [{"op": "replace", "path": "title", "value": "CTO"}]})
    assert response.status_code == 200 and response.get_json()["title"] == "CTO"


@pytest.mark.parametrize(
    "path, value, check",
    [
        ("displayName", "Ann L", lambda m: m.name == "Ann L"),
        ("name.givenName", "Annabel", lambda m: m.first_name == "Annabel"),
        ("name.familyName", "Smith", lambda m: m.last_name == "Smith"),
        ('addresses[type eq "work"].country', "JP", lambda m: m.work_country == "JP"),
        ('phoneNumbers[type eq "work"].value', "+81", lambda m: m.mobile == "+81"),
        (f"{ENTERPRISE}:department", "Ops", lambda m: [d.name for d in m.departments] == ["Ops"]),
        (f"{ENTERPRISE}:employeeNumber", "E5", lambda m: m.employee_id == "E5"),
        ("urn:ietf:params:scim:schemas:core:2.0:User:nickName", "Nick", lambda m: m.another_name == "Nick"),
        ("externalId", "ext-1", lambda m: m.scim_external_id == "ext-1"),
        ("active", "False", lambda m: m.status == "inactive"),
    ],
)
def test_every_path_form_rfc7644_3_5_2(app: Any, scim: Scim, ann: dict, path: str, value: Any, check: Any) -> None:
    response = scim.ops(f"/Users/{ann['id']}", {"op": "replace", "path": path, "value": value})
    assert response.status_code == 200, response.get_json()
    assert check(_row(app))


@pytest.mark.parametrize(
    "path, value, check",
    [
        ('addresses[type eq "work"].country', "JP", lambda m: m.work_country == "JP"),
        ('phoneNumbers[type eq "work"].value', "+81", lambda m: m.mobile == "+81"),
    ],
)
def test_filtered_path_creates_the_missing_entry_rfc7644_3_5_2_1(
    app: Any, scim: Scim, path: str, value: str, check: Any
) -> None:
    created = scim.create_user()
    for op in ("add", "replace"):
        assert scim.ops(f"/Users/{created['id']}", {"op": op, "path": path, "value": value}).status_code == 200
        assert check(_row(app))


def test_filtered_value_path_with_object_value_and_remove_rfc7644_3_5_2(app: Any, scim: Scim, ann: dict) -> None:
    url = f"/Users/{ann['id']}"
    scim.ops(url, {"op": "replace", "path": 'addresses[type eq "work"]', "value": {"country": "IT"}})
    assert _row(app).work_country == "IT"
    scim.ops(url, {"op": "remove", "path": 'phoneNumbers[type eq "work"]'})
    scim.ops(url, {"op": "remove", "path": "addresses"})
    scim.ops(url, {"op": "remove", "path": "name.givenName"})
    member = _row(app)
    assert member.mobile is None and member.work_country is None and member.first_name is None
    assert member.last_name == "Lee"


def test_pathless_value_with_plain_dotted_and_urn_keys_rfc7644_3_5_2_3(app: Any, scim: Scim, ann: dict) -> None:
    response = scim.ops(
        f"/Users/{ann['id']}",
        {
            "op": "Replace",
            "value": {
                "id": "something-else",  # Okta sends the id back: ignored
                "nickName": "Annie",
                "name.familyName": "Smith",
                f"{ENTERPRISE}:department": "Ops",
                ENTERPRISE: {"employeeNumber": "E9"},
                "urn:example:custom:2.0:User:costCenter": "1",
                "active": False,
            },
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == ann["id"] and body["nickName"] == "Annie" and body["active"] is False
    member = _row(app)
    assert (member.last_name, member.first_name) == ("Smith", "Ann")
    assert [d.name for d in member.departments] == ["Ops"] and member.employee_id == "E9"


def test_pathless_complex_value_merges_sub_attributes_rfc7644_3_5_2_3(app: Any, scim: Scim, ann: dict) -> None:
    scim.ops(f"/Users/{ann['id']}", {"op": "replace", "value": {"name": {"givenName": "Annabel"}}})
    member = _row(app)
    assert (member.first_name, member.last_name) == ("Annabel", "Lee")


def test_username_and_work_email_changed_in_one_patch_rfc7644_3_5_2_seed_faq_note(app: Any, rule_scim: Scim) -> None:
    """With the source's rule "userName must equal the work email", the rule holds on the PATCH's final state."""
    scim = rule_scim
    ann = scim.create_user("ann@acme.test")
    response = scim.ops(
        f"/Users/{ann['id']}",
        {"op": "Replace", "path": "userName", "value": "ann.lee@acme.test"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann.lee@acme.test"},
    )
    assert response.status_code == 200, response.get_json()
    assert _row(app).email == "ann.lee@acme.test"
    error = assert_scim_error(
        scim.ops(f"/Users/{ann['id']}", {"op": "replace", "path": "userName", "value": "x@acme.test"}),
        400,
        "invalidValue",
    )
    assert "x@acme.test" in error["detail"] and "ann.lee@acme.test" in error["detail"]


def test_a_userName_only_rename_without_the_rule_keeps_the_email_entra_upn_rename(
    app: Any, scim: Scim, ann: dict
) -> None:
    """Entra ID renames a UPN with one Replace of userName; without the rule the work email stays as it was."""
    response = scim.ops(
        f"/Users/{ann['id']}", {"op": "Replace", "path": "userName", "value": "ann@acme.onmicrosoft.test"}
    )
    assert response.status_code == 200, response.get_json()
    assert (_row(app).external_id, _row(app).email) == ("ann@acme.onmicrosoft.test", "ann@acme.test")


def test_add_to_multi_valued_appends_and_the_new_primary_wins_rfc7644_3_5_2_1(app: Any, scim: Scim, ann: dict) -> None:
    """§3.5.2.1: add to a multi-valued attribute adds the value (issue 18: the entry of the same type is
    kept, no longer replaced); §3.5.2: the new primary sets the old one's primary to false, and of two
    work emails the member's email is the primary one."""
    scim.ops(
        f"/Users/{ann['id']}",
        {"op": "add", "path": "emails", "value": [{"value": "a2@acme.test", "type": "work", "primary": True}]},
        {"op": "replace", "path": "userName", "value": "a2@acme.test"},
    )
    member = _row(app)
    assert member.email == "a2@acme.test"
    assert member.emails == [
        {"value": "ann@acme.test", "type": "work", "primary": False},
        {"value": "a2@acme.test", "type": "work", "primary": True},
    ]


@pytest.mark.parametrize(
    "operation, scim_type",
    [
        ({"op": "replace", "path": "name[", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq]", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "urn:broken", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "na me", "value": "x"}, "invalidPath"),
        ({"op": "move", "path": "nickName", "value": "x"}, "invalidSyntax"),
        ({"path": "nickName", "value": "x"}, "invalidSyntax"),
        ({"op": "replace", "path": "id", "value": "new-id"}, "mutability"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
    ],
)
def test_invalid_operations_are_400_and_change_nothing_rfc7644_3_5_2_3_12(
    app: Any, scim: Scim, ann: dict, operation: dict, scim_type: str
) -> None:
    response = scim.ops(f"/Users/{ann['id']}", {"op": "replace", "path": "nickName", "value": "first"}, operation)
    assert_scim_error(response, 400, scim_type)
    assert _row(app).another_name is None
    assert sync_logs(app)[-1].result == "failure" and sync_logs(app)[-1].operation == "update"


@pytest.mark.parametrize(
    "body", [{"schemas": [PATCH_SCHEMA], "Operations": []}, {"schemas": [PATCH_SCHEMA]}, {"Operations": "x"}]
)
def test_empty_operations_is_400_rfc7644_3_5_2(scim: Scim, ann: dict, body: dict) -> None:
    assert_scim_error(scim.patch(f"/Users/{ann['id']}", body), 400)


def test_unknown_attribute_paths_are_ignored(app: Any, scim: Scim, ann: dict) -> None:
    """Issue 3: unknown attributes and extension URNs are ignored, never an error (RFC 7644 §3.5.2 tolerance)."""
    response = scim.ops(
        f"/Users/{ann['id']}",
        {"op": "add", "path": "roles", "value": [{"value": "x"}]},
        {"op": "replace", "path": "urn:example:custom:2.0:User:costCenter", "value": "1"},
    )
    assert response.status_code == 200


def test_patch_answers_200_with_full_resource_and_new_etag_rfc7644_3_5_2(scim: Scim, ann: dict) -> None:
    response = scim.ops(
        f"/Users/{ann['id']}",
        {"op": "replace", "path": "nickName", "value": "A"},
        headers={"If-Match": ann["meta"]["version"]},
    )
    body = response.get_json()
    assert response.status_code == 200 and body["userName"] == "ann@acme.test" and body["meta"]["version"] == 'W/"2"'
    assert response.headers["ETag"] == 'W/"2"'
    assert_scim_error(
        scim.ops(
            f"/Users/{ann['id']}",
            {"op": "replace", "path": "nickName", "value": "B"},
            headers={"If-Match": ann["meta"]["version"]},
        ),
        412,
    )


def test_manager_patch_as_string_and_removal(app: Any, scim: Scim, ann: dict) -> None:
    """Issue 3 / Entra: the enterprise manager (RFC 7643 §4.3) patched as a plain string, then removed."""
    boss = scim.create_user("boss@acme.test")
    url = f"/Users/{ann['id']}"
    body = scim.ops(url, {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}).get_json()
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    body = scim.ops(url, {"op": "Remove", "path": f"{ENTERPRISE}:manager"}).get_json()
    assert "manager" not in body.get(ENTERPRISE, {})
