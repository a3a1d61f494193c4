"""The SCIM resource representations (RFC 7643 §4.1, §4.2, §3.1 meta) and attributes projection (RFC 7644 §3.4.2.5)."""

from __future__ import annotations

from typing import Any

import pytest

from portal.core import members
from portal.extensions import db
from portal.models import JobTitle, Member, UserGroup
from scim_blueprint import resources

pytestmark = pytest.mark.both_databases


def _objects(app: Any, org_id: int) -> tuple[Member, UserGroup]:
    title = JobTitle(org_id=org_id, name="Engineer")
    boss = Member(org_id=org_id, external_id="boss@acme.test", email="boss@acme.test", name="Boss")
    member = Member(
        org_id=org_id,
        external_id="Ann@acme.test",
        email="ann@acme.test",
        name="Ann Lee",
        first_name="Ann",
        last_name="Lee",
        employee_id="E1",
        mobile="+1 555",
        work_country="FR",
        job_title=title,
        manager=boss,
        scim_external_id="okta-1",
        user_type="Regular",
    )
    group = UserGroup(org_id=org_id, display_name="Sales", members=[member])
    db.session.add_all([title, boss, member, group])
    db.session.flush()
    return member, group


def test_user_resource_has_seed_mapping_and_meta_rfc7643_4_1_and_3_1(app: Any, org: Any) -> None:
    with app.test_request_context("/scim/v2/src/Users", base_url="https://idp.example/"):
        member, group = _objects(app, org.id)
        base = "https://portal.example/scim/v2/src"
        user = resources.user_to_scim(members.get_by_id(member.id), base)
        assert user["id"] == member.public_id and isinstance(user["id"], str)
        assert user["userName"] == "Ann@acme.test"
        assert user["emails"] == [{"value": "ann@acme.test", "type": "work", "primary": True}]
        assert user["name"] == {"givenName": "Ann", "familyName": "Lee"}
        assert user["title"] == "Engineer" and user["userType"] == "Regular" and user["active"] is True
        assert user["phoneNumbers"] == [{"value": "+1 555", "type": "work"}]
        assert user["addresses"] == [{"country": "FR", "type": "work"}]
        assert user["externalId"] == "okta-1"
        enterprise = user[resources.ENTERPRISE_SCHEMA]
        assert enterprise["employeeNumber"] == "E1"
        assert enterprise["manager"] == {
            "value": member.manager.public_id,
            "displayName": "Boss",
            "$ref": f"{base}/Users/{member.manager.public_id}",
        }
        assert user["groups"] == [
            {"value": group.public_id, "$ref": f"{base}/Groups/{group.public_id}", "display": "Sales"}
        ]
        meta = user["meta"]
        assert meta["resourceType"] == "User" and meta["location"] == f"{base}/Users/{member.public_id}"
        assert meta["version"] == f'W/"{member.version}"' and meta["created"].endswith("Z")
        assert "nickName" not in user  # no nulls


def test_group_resource_without_members_rfc7643_4_2(app: Any, org: Any) -> None:
    with app.test_request_context("/"):
        member, group = _objects(app, org.id)
        full = resources.group_to_scim(group, "https://p/scim/v2/s")
        assert full["members"][0] == {
            "value": member.public_id,
            "$ref": f"https://p/scim/v2/s/Users/{member.public_id}",
            "display": "Ann Lee",
            "type": "User",
        }
        assert "members" not in resources.group_to_scim(group, "https://p/scim/v2/s", include_members=False)


def test_base_url_prefers_public_base_url_behind_proxy_rfc7644_3_1(app: Any) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://sync.example.com/portal"
    with app.test_request_context("/scim/v2/abc/Users", base_url="http://10.0.0.1:8000/"):
        assert resources.resource_base_url() == "https://sync.example.com/portal/scim/v2/abc"
    app.config["PUBLIC_BASE_URL"] = ""
    with app.test_request_context("/scim/v2/abc/Users", base_url="http://10.0.0.1:8000/"):
        assert resources.resource_base_url() == "http://10.0.0.1:8000/scim/v2/abc"


def test_attributes_and_excluded_attributes_rfc7644_3_4_2_5() -> None:
    doc = {
        "schemas": ["s"],
        "id": "1",
        "userName": "a",
        "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "a@x", "type": "work"}],
        resources.ENTERPRISE_SCHEMA: {"department": "D", "employeeNumber": "1"},
    }
    assert resources.project(doc, "USERNAME,name.givenName") == {
        "schemas": ["s"],
        "id": "1",
        "userName": "a",
        "name": {"givenName": "A"},
    }
    assert resources.project(doc, f"{resources.ENTERPRISE_SCHEMA}:department,emails.value") == {
        "schemas": ["s"],
        "id": "1",
        "emails": [{"value": "a@x"}],
        resources.ENTERPRISE_SCHEMA: {"department": "D"},
    }
    assert resources.project(doc, excluded_attributes="name,id,emails.type") == {
        "schemas": ["s"],
        "id": "1",
        "userName": "a",
        "emails": [{"value": "a@x"}],
        resources.ENTERPRISE_SCHEMA: {"department": "D", "employeeNumber": "1"},
    }


def test_attribute_catalogue_has_no_nulls_rfc7643_7() -> None:
    for attr in resources.USER_ATTRIBUTES + resources.ENTERPRISE_ATTRIBUTES + resources.GROUP_ATTRIBUTES:
        doc = attr.to_scim()
        assert None not in doc.values()
        assert doc["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}
