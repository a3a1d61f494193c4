"""SCIM Users: the seed's attribute table, its rules, and RFC 7644 §3.3, §3.4.1, §3.5.1, §3.6, §3.14."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Department, JobTitle, Member, SyncLog, SyncSource, UserGroup, WorkforceType
from tests.scim.conftest import ENTERPRISE, Scim, add_source, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases


def _member(app: Any, user_name: str) -> Member:
    with app.app_context():
        member = db.session.scalar(
            sa.select(Member)
            .where(Member.external_id_norm == user_name.lower())
            .options(
                sa.orm.selectinload(Member.departments),
                sa.orm.joinedload(Member.job_title),
                sa.orm.joinedload(Member.employee_type),
                sa.orm.joinedload(Member.manager),
            )
        )
        if member is not None:
            db.session.expunge_all()
        return member


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


FULL = {
    "externalId": "idp-42",
    "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
    "displayName": "Ann Lee",
    "nickName": "Annie",
    "title": "Engineer",
    "userType": "Regular",
    "phoneNumbers": [{"value": "+33 1 23", "type": "mobile"}, {"value": "+33 9 99", "type": "work"}],
    "addresses": [{"country": "DE", "type": "home"}, {"country": "FR", "type": "work"}],
    ENTERPRISE: {"employeeNumber": "E-7", "department": "Sales", "manager": {"value": "boss@acme.test"}},
}


def test_create_maps_the_seed_attribute_table_rfc7643_4_1_seed_faq(app: Any, scim: Scim) -> None:
    boss = scim.create_user("boss@acme.test")
    created = scim.create_user("Ann@Acme.test", **FULL)
    member = _member(app, "ann@acme.test")
    assert member.external_id == "Ann@Acme.test" and member.email == "Ann@Acme.test"
    assert (member.name, member.first_name, member.last_name, member.another_name) == ("Ann Lee", "Ann", "Lee", "Annie")
    assert member.job_title.name == "Engineer" and [d.name for d in member.departments] == ["Sales"]
    assert member.employee_id == "E-7" and member.work_country == "FR" and member.mobile == "+33 9 99"
    assert member.scim_external_id == "idp-42" and member.status == "active"
    assert member.manager.public_id == boss["id"]
    # The response is the stored resource: every writable attribute round-trips.
    for key in ("externalId", "displayName", "nickName", "title", "userType"):
        assert created[key] == FULL[key]
    assert created["name"] == {"givenName": "Ann", "familyName": "Lee"}
    # Issue 18: every entry is kept as sent (the mobile phone and the home address too), not only the work one.
    assert created["phoneNumbers"] == FULL["phoneNumbers"]
    assert created["addresses"] == FULL["addresses"]
    assert created[ENTERPRISE]["employeeNumber"] == "E-7" and created[ENTERPRISE]["department"] == "Sales"
    assert created[ENTERPRISE]["manager"]["value"] == "boss@acme.test"
    assert created[ENTERPRISE]["manager"]["displayName"] == "Boss"
    assert created["id"] == member.public_id and isinstance(created["id"], str)


def test_title_and_department_are_found_or_created_with_the_source_and_logged_seed_1_3(app: Any, scim: Scim) -> None:
    scim.create_user("a@acme.test", title="Engineer", **{ENTERPRISE: {"department": "Sales"}})
    scim.create_user("b@acme.test", title="ENGINEER", **{ENTERPRISE: {"department": "sales"}})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTitle)) == 1
        sales = db.session.scalars(sa.select(Department).where(Department.name_norm == "sales")).all()
        assert len(sales) == 1 and sales[0].source_id is not None
        assert db.session.scalar(sa.select(JobTitle.source_id)) == sales[0].source_id
    first, second = sync_logs(app)
    assert {(a["type"], a["name"], a["created"]) for a in first.associated} == {
        ("job_title", "Engineer", True),
        ("department", "Sales", True),
    }
    assert {(a["type"], a["created"]) for a in second.associated} == {("job_title", False), ("department", False)}


@pytest.mark.parametrize(
    "missing, attribute",
    [
        ({"userName": None}, "userName"),
        ({"displayName": None}, "displayName"),
        ({"emails": []}, "emails"),
    ],
)
def test_required_attributes_missing_is_400_invalid_value_rfc7644_3_3(
    app: Any, rule_scim: Scim, missing: dict, attribute: str
) -> None:
    """With the rule "userName must equal the work email" (the seed's JumpCloud note), all three are required."""
    scim = rule_scim
    body = user()
    body.update(missing)
    error = assert_scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert attribute in error["detail"]
    assert _count(app, Member) == 0


def test_work_email_is_the_work_then_primary_then_only_one_seed_faq(app: Any, scim: Scim) -> None:
    scim.create_user(
        "a@acme.test", emails=[{"value": "home@x.test", "type": "home"}, {"value": "A@acme.test", "type": "Work"}]
    )
    scim.create_user(
        "b@acme.test", emails=[{"value": "x@x.test", "type": "home"}, {"value": "b@acme.test", "primary": "True"}]
    )
    scim.create_user("c@acme.test", emails=[{"value": "c@acme.test"}])
    assert _member(app, "a@acme.test").email == "A@acme.test"
    assert _member(app, "b@acme.test").email == "b@acme.test"


def test_without_the_rule_only_username_is_required_and_displayname_is_derived_rfc7643_4_1(
    app: Any, scim: Scim
) -> None:
    """RFC 7643 §4.1: a generic client may send a userName that is no email, and no email or displayName."""
    created = scim.post(
        "/Users", {"schemas": [user()["schemas"][0]], "userName": "u-7f3a", "name": {"formatted": "Ann Lee"}}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["displayName"] == "Ann Lee" and "emails" not in created.get_json()
    assert (_member(app, "u-7f3a").email, _member(app, "u-7f3a").name) == (None, "Ann Lee")
    bare = scim.post("/Users", {"schemas": [user()["schemas"][0]], "userName": "bare"})
    assert bare.status_code == 201 and bare.get_json()["displayName"] == "bare"
    assert_scim_error(scim.post("/Users", {"schemas": [user()["schemas"][0]]}), 400, "invalidValue")


def test_username_must_equal_work_email_case_insensitively_seed_faq_note(app: Any, rule_scim: Scim) -> None:
    scim = rule_scim
    error = assert_scim_error(
        scim.post("/Users", user("ann@acme.test", emails=[{"value": "other@acme.test", "type": "work"}])),
        400,
        "invalidValue",
    )
    assert "ann@acme.test" in error["detail"] and "other@acme.test" in error["detail"]
    scim.create_user("ANN@acme.test", emails=[{"value": "ann@ACME.test", "type": "work"}])


@pytest.mark.parametrize(
    "second, attribute",
    [
        (user("ANN@ACME.TEST"), "userName"),
        (user("bob@acme.test", **{ENTERPRISE: {"employeeNumber": "E1"}}), "employeeNumber"),
    ],
)
def test_uniqueness_is_409_naming_the_attribute_rfc7644_3_3_seed_faq(
    app: Any, scim: Scim, second: dict, attribute: str
) -> None:
    scim.create_user("ann@acme.test", **{ENTERPRISE: {"employeeNumber": "E1"}})
    error = assert_scim_error(scim.post("/Users", second), 409, "uniqueness")
    assert attribute in error["detail"]
    assert _count(app, Member) == 1
    rows = sync_logs(app)
    assert [(r.result, r.status_code, r.scim_type) for r in rows] == [
        ("success", 201, None),
        ("failure", 409, "uniqueness"),
    ]


def test_email_taken_by_another_member_of_the_source_is_409(app: Any, scim: Scim) -> None:
    """Seed FAQ: email unique within the organization; RFC 7644 §3.5.1 PUT answers 409 uniqueness."""
    created = scim.create_user("ann@acme.test")
    other = scim.create_user("bob@acme.test")
    body = user("ann@acme.test")
    assert_scim_error(scim.put(f"/Users/{other['id']}", body), 409, "uniqueness")
    assert _member(app, "bob@acme.test").email == "bob@acme.test"
    assert created["id"] != other["id"]


def _hand_member(app: Any, org_id: int, **values: Any) -> str:
    from portal.core import members

    with app.app_context():
        base = {"external_id": "jdoe", "email": "jdoe@acme.test", "name": "J Doe"}
        base.update(values)
        member = members.create_member(org_id, base, Actor.cli())
        db.session.commit()
        return member.public_id


@pytest.mark.parametrize(
    "match, hand, request_extra",
    [
        ("email", {}, {}),
        ("employee_id", {"email": "old@acme.test", "employee_id": "E9"}, {ENTERPRISE: {"employeeNumber": "E9"}}),
        (
            "mobile",
            {"email": "old@acme.test", "mobile": "+1 555"},
            {"phoneNumbers": [{"value": "+1 555", "type": "work"}]},
        ),
    ],
)
def test_existing_member_found_by_match_attribute_is_linked_201_seed_1_1_step_5(
    app: Any, runner: Any, client: Any, org: Any, match: str, hand: dict, request_extra: dict
) -> None:
    source = add_source(runner, org.name, "--activate", "--match-attribute", match)
    public_id = _hand_member(app, org.id, **hand)
    response = Scim(client, source).post("/Users", user("jdoe@acme.test", displayName="John Doe", **request_extra))
    assert response.status_code == 201
    assert response.get_json()["id"] == public_id
    member = _member(app, "jdoe@acme.test")
    assert member.public_id == public_id and member.name == "John Doe" and member.source_id is not None
    (row,) = sync_logs(app)
    assert row.operation == "link" and row.status_code == 201 and match in row.notes[0]
    assert row.changes["name"] == ["J Doe", "John Doe"]


def test_existing_member_with_the_username_is_linked_seed_1_1_step_5(app: Any, scim: Scim, org: Any) -> None:
    public_id = _hand_member(app, org.id, external_id="ann@acme.test", email="ann@acme.test")
    assert scim.post("/Users", user("ANN@acme.test")).get_json()["id"] == public_id


def test_match_attribute_not_configured_is_not_used_seed_1_1_step_5(app: Any, scim: Scim, org: Any) -> None:
    _hand_member(app, org.id, email="old@acme.test", employee_id="E9")
    assert_scim_error(
        scim.post("/Users", user("new@acme.test", **{ENTERPRISE: {"employeeNumber": "E9"}})), 409, "uniqueness"
    )


def test_member_linked_to_another_active_source_is_409_seed_1_1_step_5(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    first = Scim(client, add_source(runner, org.name, "--activate"))
    second = Scim(client, add_source(runner, org.name, "--activate"))
    first.create_user("ann@acme.test")
    assert_scim_error(second.post("/Users", user("ann@acme.test")), 409, "uniqueness")
    # A deactivated source still manages its members: a create (JumpCloud's Test Connection user too)
    # neither takes the member over nor, by a DELETE after it, suspends it.
    assert runner.invoke(args=["sync-source", "deactivate", first.source.id]).exit_code == 0
    assert "inactive sync source" in assert_scim_error(second.post("/Users", user("ann@acme.test")), 409)["detail"]
    assert _member(app, "ann@acme.test").status == "active"
    # Once the first source is deleted the member is unmanaged, and the second source links it.
    assert runner.invoke(args=["sync-source", "delete", first.source.id]).exit_code == 0
    assert second.post("/Users", user("ann@acme.test")).status_code == 201


def test_user_type_goes_through_workforce_rules_case_insensitively_seed_1_1_step_4(
    app: Any, runner: Any, client: Any, org: Any
) -> None:
    source = add_source(runner, org.name, "--activate", "--workforce-rule", "Regular=regular employee")
    scim = Scim(client, source)
    scim.create_user("a@acme.test", userType="REGULAR")
    scim.create_user("b@acme.test", userType="Astronaut")
    assert _member(app, "a@acme.test").employee_type.name == "regular employee"
    member_b = _member(app, "b@acme.test")
    assert member_b.employee_type is None and member_b.user_type == "Astronaut"
    notes = sync_logs(app)[1].notes
    assert any("No workforce type rule" in n and "Astronaut" in n for n in notes)


def test_ignored_attributes_null_and_unknown_extensions_rfc7643_3_seed_faq(app: Any, scim: Scim) -> None:
    body = user(
        password="s3cret!",
        groups=[{"value": "g"}],
        roles=[{"value": "admin"}],
        id="mine",
        meta={"resourceType": "Group"},
        nickName=None,
        title=None,
        unknownAttr={"x": 1},
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:custom:2.0:User"],
        **{"urn:example:custom:2.0:User": {"costCenter": "1"}},
    )
    created = scim.post("/Users", body).get_json()
    assert created["id"] != "mine" and "nickName" not in created and "title" not in created
    assert "roles" not in created and "password" not in created and "groups" not in created
    (row,) = sync_logs(app)
    assert "password" not in row.request_body and "s3cret!" not in str(row.request_body)


def test_attribute_names_are_case_insensitive_rfc7643_2_1(app: Any, scim: Scim) -> None:
    scim.post(
        "/Users",
        {
            "USERNAME": "ann@acme.test",
            "displayname": "Ann",
            "Emails": [{"Value": "ann@acme.test", "TYPE": "work"}],
            "Name": {"GivenName": "Ann"},
        },
    )
    assert _member(app, "ann@acme.test").first_name == "Ann"


@pytest.mark.parametrize(
    "value, status",
    [(False, "inactive"), ("False", "inactive"), ("false", "inactive"), ("TRUE", "active"), (True, "active")],
)
def test_booleans_accept_strings_in_any_case(app: Any, scim: Scim, value: Any, status: str) -> None:
    """Issue 3: booleans as JSON booleans or the strings True/False in any case.

    Entra sends "False"; RFC 7643 §2.3.2.
    """
    scim.create_user(active=value)
    assert _member(app, "ann@acme.test").status == status


def test_wrong_types_are_400_invalid_value_never_500_rfc7644_3_12(app: Any, scim: Scim) -> None:
    for body in (
        user(active="maybe"),
        user(userName={"a": 1}),
        user(emails="x"),
        user(name=[1]),
        user(displayName="x" * 300),
    ):
        assert_scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert _count(app, Member) == 0


def test_active_false_suspends_and_true_reactivates_seed_vocabulary(app: Any, scim: Scim) -> None:
    created = scim.create_user()
    body = user(active=False)
    assert scim.put(f"/Users/{created['id']}", body).get_json()["active"] is False
    assert _member(app, "ann@acme.test").status == "inactive"
    # A suspended member is still returned by GET.
    assert scim.get(f"/Users/{created['id']}").get_json()["active"] is False
    body["active"] = True
    scim.put(f"/Users/{created['id']}", body)
    assert _member(app, "ann@acme.test").status == "active"
    assert [r.operation for r in sync_logs(app)] == ["create", "deactivate", "reactivate"]


def test_put_replaces_clearing_left_out_attributes_rfc7644_3_5_1(app: Any, scim: Scim) -> None:
    created = scim.create_user(**FULL)
    response = scim.put(f"/Users/{created['id']}", user(id="ignored", meta={"version": 'W/"9"'}))
    assert response.status_code == 200
    replaced = response.get_json()
    assert replaced["id"] == created["id"]
    for key in ("nickName", "title", "userType", "name", "phoneNumbers", "addresses", "externalId", ENTERPRISE):
        assert key not in replaced, key
    member = _member(app, "ann@acme.test")
    assert member.job_title is None and member.departments == [] and member.mobile is None


def test_put_to_unknown_id_is_404_and_creates_nothing_rfc7644_3_5_1(app: Any, scim: Scim) -> None:
    assert_scim_error(scim.put("/Users/8d3c0d7e-0000-4000-8000-000000000000", user()), 404)
    assert _count(app, Member) == 0
    (row,) = sync_logs(app)
    assert row.result == "failure" and row.status_code == 404 and row.operation == "update"


def test_etag_and_if_match_rfc7644_3_14(app: Any, scim: Scim) -> None:
    created = scim.create_user()
    url = f"/Users/{created['id']}"
    first = scim.get(url)
    assert first.headers["ETag"] == created["meta"]["version"] == 'W/"1"'
    assert scim.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert_scim_error(scim.put(url, user(nickName="x"), headers={"If-Match": 'W/"7"'}), 412)
    assert _member(app, "ann@acme.test").another_name is None
    updated = scim.put(url, user(nickName="x"), headers={"If-Match": 'W/"1"'})
    assert updated.status_code == 200 and updated.headers["ETag"] == 'W/"2"'
    assert updated.get_json()["meta"]["version"] == 'W/"2"'
    assert_scim_error(scim.delete(url, headers={"If-Match": 'W/"1"'}), 412)


def test_meta_is_complete_and_location_absolute_behind_a_proxy_rfc7643_3_1(app: Any, scim: Scim) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://sync_sources.example.com"
    created = scim.create_user()
    meta = created["meta"]
    assert meta["resourceType"] == "User" and meta["created"] == meta["lastModified"]
    assert meta["location"] == f"https://sync_sources.example.com{scim.source.path}/Users/{created['id']}"


@pytest.mark.parametrize("rule, after", [("suspend", "inactive"), ("delete", None)])
def test_delete_follows_the_member_deletion_rule_seed_1_1_step_5(
    app: Any, scim: Scim, org: Any, rule: str, after: str | None
) -> None:
    with app.app_context():
        source = db.session.scalar(sa.select(SyncSource))
        sync_sources.configure_source(org.id, source.id, Actor.cli(), deletion_rule=rule)
        db.session.commit()
    created = scim.create_user(**{ENTERPRISE: {"department": "Sales"}})
    group = scim.post("/Groups", {"displayName": "Team", "members": [{"value": created["id"]}]}).get_json()
    response = scim.delete(f"/Users/{created['id']}")
    assert response.status_code == 204 and response.data == b""
    assert_scim_error(scim.get(f"/Users/{created['id']}"), 404)
    assert_scim_error(scim.delete(f"/Users/{created['id']}"), 404)
    member = _member(app, "ann@acme.test")
    if after is None:
        assert member is None
        with app.app_context():
            assert db.session.scalar(sa.select(UserGroup.display_name)) == "Team"
        assert scim.get(f"/Groups/{group['id']}").get_json().get("members", []) == []
    else:
        assert member.status == "inactive" and member.source_id is None
        assert [d.name for d in member.departments] == ["Sales"]
    rows = sync_logs(app)
    assert [(r.operation, r.result) for r in rows][-3:] == [
        ("delete", "success"),
        ("request", "failure"),
        ("delete", "failure"),
    ]


def test_each_write_leaves_exactly_one_sync_log_row(app: Any, scim: Scim) -> None:
    """Issue 3, Sync log: one row per write.

    With changes, request id, method, path, duration and the body without secrets.
    """
    created = scim.create_user(password="hunter2")
    scim.put(f"/Users/{created['id']}", user(nickName="N", password="hunter2"))
    scim.ops(f"/Users/{created['id']}", {"op": "replace", "path": "title", "value": "CTO"})
    scim.delete(f"/Users/{created['id']}")
    rows = sync_logs(app)
    assert [(r.operation, r.object_type, r.object_name, r.result) for r in rows] == [
        ("create", "member", "ann@acme.test", "success"),
        ("update", "member", "ann@acme.test", "success"),
        ("update", "member", "ann@acme.test", "success"),
        ("delete", "member", "ann@acme.test", "success"),
    ]
    assert rows[1].changes == {"another_name": [None, "N"]}
    assert rows[2].changes == {"job_title": [None, "CTO"]}
    for row in rows:
        assert row.request_id and row.method and row.path.startswith("/scim/v2/") and row.duration_ms is not None
        assert "hunter2" not in str(row.request_body)


def test_manager_as_string_resolves_to_a_member_and_unknown_is_kept(app: Any, scim: Scim) -> None:
    """RFC 7643 §4.3 manager: a string or {value}; stored as a reference to the member it names."""
    boss = scim.create_user("boss@acme.test")
    created = scim.create_user(**{ENTERPRISE: {"manager": boss["id"]}})
    assert created[ENTERPRISE]["manager"] == {
        "value": boss["id"],
        "$ref": boss["meta"]["location"],
        "displayName": "Boss",
    }
    other = scim.create_user("bob@acme.test", **{ENTERPRISE: {"manager": "someone-else"}})
    assert other[ENTERPRISE]["manager"] == {"value": "someone-else"}


def test_users_carry_read_only_groups_rfc7643_4_1_2(app: Any, scim: Scim) -> None:
    created = scim.create_user()
    group = scim.post("/Groups", {"displayName": "Team", "members": [{"value": created["id"]}]}).get_json()
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    assert fetched["groups"] == [{"value": group["id"], "$ref": group["meta"]["location"], "display": "Team"}]
    scim.put(f"/Users/{created['id']}", user(groups=[]))
    assert scim.get(f"/Users/{created['id']}").get_json()["groups"][0]["value"] == group["id"]


def test_get_supports_attributes_and_excluded_attributes_rfc7644_3_4_2_5(scim: Scim) -> None:
    created = scim.create_user(nickName="A")
    only = scim.get(f"/Users/{created['id']}?attributes=userName").get_json()
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.get(f"/Users/{created['id']}?excludedAttributes=nickName,emails").get_json()
    assert "nickName" not in without and "emails" not in without and "userName" in without


def test_another_sources_user_is_404(app: Any, runner: Any, client: Any, scim: Scim, org: Any) -> None:
    """RFC 7644 §3.4.1: a source sees only the members it manages; another source's user is 404."""
    created = scim.create_user()
    other = Scim(client, add_source(runner, org.name, "--activate"))
    assert_scim_error(other.get(f"/Users/{created['id']}"), 404)
    assert_scim_error(other.delete(f"/Users/{created['id']}"), 404)
    assert _member(app, "ann@acme.test") is not None


def test_no_workforce_type_without_user_type(app: Any, scim: Scim) -> None:
    """Seed 1.1 step 4: without userType no workforce type is set; one sync log row for the create."""
    scim.create_user()
    with app.app_context():
        assert db.session.scalar(sa.select(Member.employee_type_id)) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkforceType)) == 4
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncLog)) == 1
