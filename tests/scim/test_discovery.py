"""Discovery endpoints (RFC 7644 §4; RFC 7643 §5 ServiceProviderConfig, §6 ResourceTypes, §7 Schemas)."""

from __future__ import annotations

from typing import Any

import pytest

from portal.extensions import db
from scim_blueprint import resources
from tests.scim.conftest import Scim, assert_scim_error
from tests.scim.rows import add_group, add_member, scim_body, source_row

pytestmark = pytest.mark.both_databases

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def nulls(value: Any, path: str = "") -> list[str]:
    """Paths of every null in a JSON document."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def test_service_provider_config_rfc7643_5(scim: Scim) -> None:
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200
    body = scim_body(response)
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    # maxOperations: the cap of operations per PATCH (issue 12 item 2), where RFC 7643 §5 has bulk's
    assert body["patch"] == {"supported": True, "maxOperations": 10000}
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"] == {"supported": False}
    assert body["sort"] == {"supported": True} and body["etag"] == {"supported": True}
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]
    assert body["meta"]["location"] == f"http://localhost{scim.source.path}/ServiceProviderConfig"
    assert body["meta"]["resourceType"] == "ServiceProviderConfig"
    assert nulls(body) == []


def test_resource_types_rfc7643_6(scim: Scim) -> None:
    body = scim_body(scim.get("/ResourceTypes"))
    assert body["schemas"] == [LIST] and body["totalResults"] == 2
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["User"]["schema"] == USER
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_id["Group"]["endpoint"] == "/Groups" and by_id["Group"]["schema"] == GROUP
    assert scim_body(scim.get("/ResourceTypes/Group")) == by_id["Group"]
    assert by_id["Group"]["meta"]["location"].endswith("/ResourceTypes/Group")
    assert nulls(body) == []
    assert_scim_error(scim.get("/ResourceTypes/Device"), 404)


def test_schemas_list_and_by_urn_rfc7643_7(scim: Scim) -> None:
    body = scim_body(scim.get("/Schemas"))
    assert [s["id"] for s in body["Resources"]] == [USER, ENTERPRISE, GROUP] and body["totalResults"] == 3
    assert nulls(body) == []
    for schema in body["Resources"]:
        assert scim_body(scim.get(f"/Schemas/{schema['id']}")) == schema
        assert schema["meta"]["location"].endswith(f"/Schemas/{schema['id']}")
        for attribute in schema["attributes"]:
            assert {"name", "type", "multiValued", "required", "mutability", "returned"} <= attribute.keys()
    assert_scim_error(scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Device"), 404)


def test_schemas_publish_exactly_what_a_user_and_group_return_rfc7643_7(
    app: Any, org: Any, source: Any, scim: Scim
) -> None:
    with app.app_context():
        source_id = source_row(source.id).id
        boss = add_member(org.id, source_id, "boss@acme.com", name="Boss")
        ann = add_member(
            org.id,
            source_id,
            "ann@acme.com",
            name="Ann Lee",
            first_name="Ann",
            last_name="Lee",
            another_name="Annie",
            title="Engineer",
            department="Sales",
            employee_id="E1",
            user_type="Regular",
            mobile="+1 555",
            work_country="FR",
            scim_external_id="x-1",
            manager=boss,
            # issue 18: the entries as sent, each sub-attribute of RFC 7643 §4.1.2 once
            emails=[{"value": "ann@acme.com", "display": "Ann", "type": "work", "primary": True}],
            phone_numbers=[{"value": "+1 555", "display": "+1 555", "type": "work", "primary": True}],
            addresses=[
                {
                    "formatted": "1 Rue X, Paris",
                    "streetAddress": "1 Rue X",
                    "locality": "Paris",
                    "region": "IDF",
                    "postalCode": "75001",
                    "country": "FR",
                    "type": "work",
                    "primary": True,
                }
            ],
        )
        add_group(org.id, source_id, "Sales", [ann], scim_external_id="g-1")
        db.session.commit()
    schemas = {s["id"]: s for s in scim_body(scim.get("/Schemas"))["Resources"]}

    def declared(schema: dict[str, Any]) -> dict[str, set[str]]:
        return {a["name"]: {s["name"] for s in a.get("subAttributes", [])} for a in schema["attributes"]}

    def returned(resource: dict[str, Any], skip: set[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key, value in resource.items():
            if key in skip:
                continue
            items = value if isinstance(value, list) else [value]
            out[key] = {sub for item in items if isinstance(item, dict) for sub in item}
        return out

    user = next(r for r in scim_body(scim.get("/Users"))["Resources"] if r["userName"] == "ann@acme.com")
    assert returned(user, {"schemas", "meta", ENTERPRISE}) == declared(schemas[USER])
    assert returned(user[ENTERPRISE], set()) == declared(schemas[ENTERPRISE])
    group = scim_body(scim.get("/Groups"))["Resources"][0]
    assert returned(group, {"schemas", "meta"}) == declared(schemas[GROUP])


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", f"/Schemas/{USER}", "/ResourceTypes/User"]
)
def test_other_methods_on_discovery_are_405_rfc7644_4(scim: Scim, method: str, path: str) -> None:
    assert_scim_error(scim.request(method, path, {"schemas": []}), 405)


def test_unknown_path_is_a_scim_404_rfc7644_3_12(scim: Scim) -> None:
    assert_scim_error(scim.get("/Devices"), 404)
    assert_scim_error(scim.get("/Users/x/y/z"), 404)


def test_schema_attributes_come_from_the_resource_catalogue_rfc7643_7() -> None:
    from scim_blueprint import discovery

    names = {urn: [a.name for a in attrs] for urn, _, _, attrs in discovery.SCHEMAS}
    assert names[USER] == [a.name for a in resources.COMMON_ATTRIBUTES + resources.USER_ATTRIBUTES]
    assert names[ENTERPRISE] == [a.name for a in resources.ENTERPRISE_ATTRIBUTES]
