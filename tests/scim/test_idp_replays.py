"""Replays of the documented request sequences of JumpCloud, Okta and Microsoft Entra ID against the real app.

Each test walks one identity provider's documented provisioning flow request by
request (bodies shaped as the provider sends them) and checks what it relies on:
status codes, the resource it reads back, and the member the organization ends
up with. RFC 7644 §3.3 (create), §3.4.2 (filter lookups), §3.5.1/§3.5.2 (PUT/PATCH), §3.6 (DELETE).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member, UserGroup, group_members
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, Scim, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _member(app: Any, user_name: str) -> Member | None:
    with app.app_context():
        member = db.session.scalar(
            sa.select(Member)
            .where(Member.external_id_norm == user_name.lower())
            .options(
                sa.orm.selectinload(Member.departments),
                sa.orm.joinedload(Member.job_title),
                sa.orm.joinedload(Member.manager),
            )
        )
        db.session.expunge_all()
        return member


def _lookup(scim: Scim, user_name: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = scim.get(f'/Users?filter=userName eq "{user_name}"' + (f"&{query}" if query else ""))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [LIST_SCHEMA]
    return body


# ---------------------------------------------------------------- JumpCloud


def jumpcloud_user(email: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": email,
        "externalId": "5f1e7a2b9c0d4e3f2a1b0c9d",
        "name": {"givenName": "Jane", "familyName": "Doe", "middleName": ""},
        "displayName": "Jane Doe",
        "title": "Account Executive",
        "active": True,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 303 555 0100", "type": "work"}],
        "addresses": [
            {
                "type": "work",
                "streetAddress": "1 Main St",
                "locality": "Boulder",
                "region": "CO",
                "postalCode": "80301",
                "country": "US",
            }
        ],
        ENTERPRISE: {
            "employeeNumber": "1001",
            "department": "Sales",
            "costCenter": "",
            "organization": "",
            "division": "",
        },
    }
    body.update(changes)
    return body


def test_jumpcloud_test_connection_lookup_create_delete_seed_1_2_step_9(app: Any, scim: Scim) -> None:
    test_email = "scim-test@acme.test"
    assert _lookup(scim, test_email)["totalResults"] == 0
    created = scim.post("/Users", jumpcloud_user(test_email))
    assert created.status_code == 201, created.get_json()
    assert _lookup(scim, test_email)["totalResults"] == 1
    assert scim.delete(f"/Users/{created.get_json()['id']}").status_code == 204
    assert _lookup(scim, test_email)["totalResults"] == 0


def test_jumpcloud_provisioning_with_enterprise_extension_put_deactivate_delete_seed_1_2(app: Any, scim: Scim) -> None:
    email = "jane.doe@acme.test"
    assert _lookup(scim, email)["totalResults"] == 0
    created = scim.post("/Users", jumpcloud_user(email)).get_json()
    member = _member(app, email)
    assert member.job_title.name == "Account Executive" and [d.name for d in member.departments] == ["Sales"]
    assert (member.employee_id, member.mobile, member.work_country) == ("1001", "+1 303 555 0100", "US")
    # A profile change in JumpCloud is a full PUT.
    updated = scim.put(
        f"/Users/{created['id']}",
        jumpcloud_user(
            email, title="Sales Director", **{ENTERPRISE: {"employeeNumber": "1001", "department": "Sales EMEA"}}
        ),
    )
    assert updated.status_code == 200
    assert updated.get_json()[ENTERPRISE]["department"] == "Sales EMEA"
    # Removing the user from the app deactivates it ...
    deactivated = scim.put(f"/Users/{created['id']}", jumpcloud_user(email, active=False))
    assert deactivated.status_code == 200 and deactivated.get_json()["active"] is False
    assert _member(app, email).status == "inactive"
    # ... and deleting it in JumpCloud sends DELETE.
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert_scim_error(scim.get(f"/Users/{created['id']}"), 404)
    assert [(r.operation, r.result) for r in sync_logs(app)] == [
        ("create", "success"),
        ("update", "success"),
        ("deactivate", "success"),
        ("delete", "success"),
        ("request", "failure"),
    ]  # the GET of the deleted user


# ---------------------------------------------------------------- Okta


def okta_user(email: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1a2b3c4d5e6f7g8h9",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(changes)
    return body


def test_okta_test_connector_and_user_lifecycle_okta_scim_2_0(app: Any, scim: Scim) -> None:
    listing = scim.get("/Users?startIndex=1&count=2")
    assert listing.status_code == 200
    assert {"totalResults", "startIndex", "itemsPerPage", "Resources"} <= set(listing.get_json())
    email = "ada@acme.test"
    assert _lookup(scim, email, startIndex="1", count="100")["totalResults"] == 0
    created = scim.post("/Users", okta_user(email))
    assert created.status_code == 201
    user = created.get_json()
    assert user["externalId"] == "00u1a2b3c4d5e6f7g8h9" and "password" not in user
    assert "1mz050nq" not in str(sync_logs(app)[0].request_body)
    # Profile push: GET, then PUT of the whole user.
    fetched = scim.get(f"/Users/{user['id']}").get_json()
    fetched["name"]["familyName"] = "King"
    fetched["displayName"] = "Ada King"
    put = scim.put(f"/Users/{user['id']}", fetched)
    assert put.status_code == 200 and put.get_json()["name"]["familyName"] == "King"
    # Deactivation: a path-less replace of active.
    patched = scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    assert _member(app, email).status == "inactive"
    # Reactivation the same way; the lookup still finds a suspended user.
    assert _lookup(scim, email)["totalResults"] == 1
    scim.patch(
        f"/Users/{user['id']}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    assert _member(app, email).status == "active"


def test_okta_group_push_rename_and_member_changes_okta_scim_2_0(app: Any, scim: Scim) -> None:
    ada = scim.post("/Users", okta_user("ada@acme.test")).get_json()
    bob = scim.post("/Users", okta_user("bob@acme.test", externalId="00u2")).get_json()
    lookup = scim.get('/Groups?filter=displayName eq "Engineering"&startIndex=1&count=100')
    assert lookup.status_code == 200 and lookup.get_json()["totalResults"] == 0
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []}).get_json()
    url = f"/Groups/{group['id']}"
    assert scim.get(url).status_code == 200
    renamed = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "Engineering Team"}}],
        },
    )
    assert renamed.status_code == 200 and renamed.get_json()["displayName"] == "Engineering Team"
    added = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [
                        {"value": ada["id"], "display": "ada@acme.test"},
                        {"value": bob["id"], "display": "bob@acme.test"},
                    ],
                }
            ],
        },
    )
    assert added.status_code == 200 and len(added.get_json()["members"]) == 2
    removed = scim.patch(
        url, {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": f'members[value eq "{ada["id"]}"]'}]}
    )
    assert [m["value"] for m in removed.get_json()["members"]] == [bob["id"]]
    assert scim.delete(url).status_code == 204
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserGroup)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 2


# ---------------------------------------------------------------- Microsoft Entra ID


def entra_user(email: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": email,
        "active": True,
        "displayName": "Barbara Jensen",
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Barbara Jensen", "familyName": "Jensen", "givenName": "Barbara"},
        "roles": [],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
    }
    body.update(changes)
    return body


def test_entra_test_connection_filter_on_random_guid_entra(scim: Scim) -> None:
    body = _lookup(scim, str(uuid.uuid4()))
    assert body["totalResults"] == 0 and body.get("Resources", []) == []


def test_entra_user_lifecycle_entra(app: Any, scim: Scim) -> None:
    email = "bjensen@acme.test"
    boss = scim.post(
        "/Users",
        entra_user("boss@acme.test", externalId="b0", displayName="Boss", **{ENTERPRISE: {"employeeNumber": "1"}}),
    ).get_json()
    assert _lookup(scim, email)["totalResults"] == 0
    created = scim.post("/Users", entra_user(email))
    assert created.status_code == 201
    user_id = created.get_json()["id"]
    url = f"/Users/{user_id}"
    # Capitalized ops, the "False" string, a path-less replace with dotted and URN keys.
    replaced = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Babs Jensen"},
                {
                    "op": "Replace",
                    "value": {"name.givenName": "Babs", f"{ENTERPRISE}:department": "Marketing", "nickName": "Babs"},
                },
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
            ],
        },
    )
    assert replaced.status_code == 200, replaced.get_json()
    member = _member(app, email)
    assert (member.name, member.first_name, member.another_name) == ("Babs Jensen", "Babs", "Babs")
    assert [d.name for d in member.departments] == ["Marketing"] and member.manager.public_id == boss["id"]
    # userName and work email change together in one PATCH.
    renamed = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Replace", "path": "userName", "value": "babs.jensen@acme.test"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "babs.jensen@acme.test"},
            ],
        },
    )
    assert renamed.status_code == 200 and renamed.get_json()["userName"] == "babs.jensen@acme.test"
    disabled = scim.patch(
        url, {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    )
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    assert scim.delete(url).status_code == 204
    assert_scim_error(scim.get(url), 404)


def test_entra_group_with_legacy_member_remove_entra(app: Any, scim: Scim) -> None:
    ids = [
        scim.post(
            "/Users", entra_user(f"u{i}@acme.test", externalId=f"e{i}", **{ENTERPRISE: {"employeeNumber": str(i)}})
        ).get_json()["id"]
        for i in range(3)
    ]
    lookup = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "Sales"')
    assert lookup.status_code == 200 and lookup.get_json()["totalResults"] == 0
    group = scim.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
            "members": [],
        },
    )
    assert group.status_code == 201
    url = f"/Groups/{group.get_json()['id']}"
    add = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}],
        },
    )
    assert add.status_code in (200, 204)
    remove = scim.patch(
        url,
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": ids[0]}]}],
        },
    )
    assert remove.status_code in (200, 204)
    with app.app_context():
        left = set(
            db.session.scalars(sa.select(Member.public_id).join(group_members, group_members.c.member_id == Member.id))
        )
    assert left == set(ids[1:])
    found = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "Sales"').get_json()
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]


def test_jumpcloud_test_email_of_an_existing_member_gets_deactivated_seed_1_2_step_9(
    app: Any, scim: Scim, org: Any
) -> None:
    """Seed 1.2 step 9: "If the test email account exists in Lark, the account could be deactivated after the
    test": the test's create links the existing member, and its DELETE suspends it (rule Suspend member)."""
    from portal.core import members
    from portal.core.actors import Actor

    with app.app_context():
        members.create_member(
            org.id, {"external_id": "it@acme.test", "email": "it@acme.test", "name": "IT"}, Actor.cli()
        )
        db.session.commit()
    assert _lookup(scim, "it@acme.test")["totalResults"] == 0  # a hand-made member is not the source's
    created = scim.post("/Users", jumpcloud_user("it@acme.test"))
    assert created.status_code == 201
    assert scim.delete(f"/Users/{created.get_json()['id']}").status_code == 204
    member = _member(app, "it@acme.test")
    assert member.status == "inactive" and member.source_id is None
    assert [r.operation for r in sync_logs(app)] == ["link", "delete"]
