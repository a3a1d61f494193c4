"""Issue 18, RFC points: /Bulk and /Me answer 501, Group ``members`` as RFC 7643 declares it (``$ref`` too),
and the PATCH paths that are ignored are named in the Sync log.

- RFC 7644 §3.7 (Bulk, optional; ServiceProviderConfig ``bulk.supported`` false, RFC 7643 §5) and §3.11
  (/Me: "A service provider that does NOT support this feature SHOULD respond with HTTP status code 501
  (Not Implemented)"): 501 with a SCIM error document (§3.12) for every method, behind the same
  authentication as every other endpoint (401 first).
- RFC 7643 §4.2 ("sub-attributes of members are immutable"), §8.7.1 (value, $ref, type: immutable),
  §2.4 (display: immutable), §2.3.7 (a reference is case exact; absolute, or relative to the base URI):
  a client that fills ``$ref`` from a User's ``meta.location`` is understood, with or without ``value``.
- RFC 7644 §3.5.2: ``meta``, ``groups`` and ``schemas`` in a PATCH path are ignored, as before, and the
  Sync log row says so ("Ignored PATCH path meta.lastModified: read-only").
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import SyncLog, SyncSource
from tests.conftest import Console
from tests.scim.conftest import GROUP_SCHEMA, SCIM_JSON, Scim, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


# ---------------------------------------------------------------- /Bulk and /Me: 501


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("endpoint", ["/Bulk", "/Me", "/Bulk/", "/Me/"])
def test_bulk_and_me_answer_501_to_every_method_rfc7644_3_7_3_11(scim: Scim, endpoint: str, method: str) -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}
    response = scim.request(method, endpoint, body if method in ("POST", "PUT", "PATCH") else None)
    assert response.status_code == 501, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    if method != "HEAD":  # no body in an answer to HEAD
        error = assert_scim_error(response, 501)
        assert "scimType" not in error  # RFC 7644 §3.12 defines none for 501
        assert ("§3.7" if endpoint.startswith("/Bulk") else "§3.11") in error["detail"]


def test_service_provider_config_says_bulk_is_not_supported_rfc7643_5(scim: Scim) -> None:
    config = scim.get("/ServiceProviderConfig").get_json()
    assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}


@pytest.mark.parametrize("endpoint", ["/Bulk", "/Me"])
def test_bulk_and_me_authenticate_first_401_rfc7644_2(app: Any, scim: Scim, endpoint: str) -> None:
    """RFC 7644 §3.11: /Me is the authenticated subject's alias; with no subject there is nothing to say but 401."""
    missing = scim.client.open(f"{scim.source.path}{endpoint}", method="GET")
    assert_scim_error(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_scim_error(scim.post(endpoint, {}, token="not-the-token"), 401)


def test_bulk_refusal_is_in_the_sync_log_rfc7644_3_12(app: Any, scim: Scim) -> None:
    assert scim.post("/Bulk", {"Operations": []}).status_code == 501
    row = sync_logs(app)[-1]
    assert (row.result, row.status_code, row.method, row.path) == ("failure", 501, "POST", f"{scim.source.path}/Bulk")


# ---------------------------------------------------------------- Group members: /Schemas and $ref


def test_schemas_declare_group_members_sub_attributes_immutable_rfc7643_4_2_8_7_1(scim: Scim) -> None:
    group = scim.get(f"/Schemas/{GROUP_SCHEMA}").get_json()
    (members,) = [a for a in group["attributes"] if a["name"] == "members"]
    assert (members["type"], members["multiValued"], members["mutability"]) == ("complex", True, "readWrite")
    subs = {s["name"]: s for s in members["subAttributes"]}
    assert set(subs) == {"value", "$ref", "type", "display"}
    assert {name: s["mutability"] for name, s in subs.items()} == dict.fromkeys(subs, "immutable")
    assert subs["$ref"]["type"] == "reference" and subs["$ref"]["referenceTypes"] == ["User"]
    assert subs["$ref"]["caseExact"] is True  # RFC 7643 §2.3.7: "A reference is case exact."
    assert subs["type"]["canonicalValues"] == ["User"]


@pytest.fixture
def people(scim: Scim) -> dict[str, dict[str, Any]]:
    return {name: scim.create_user(f"{name}@acme.test") for name in ("ann", "bob", "cat")}


def _ids(response: Any) -> set[str]:
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return {m["value"] for m in response.get_json()["members"]}


def test_members_with_value_and_ref_from_meta_location_rfc7643_4_2(scim: Scim, people: dict[str, Any]) -> None:
    """What a schema-driven client sends: value, and $ref filled from the User's meta.location."""
    ann, bob = people["ann"], people["bob"]
    entries = [{"value": p["id"], "$ref": p["meta"]["location"], "type": "User"} for p in (ann, bob)]
    created = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": entries})
    assert _ids(created) == {ann["id"], bob["id"]}
    group = created.get_json()
    assert {m["$ref"] for m in group["members"]} == {ann["meta"]["location"], bob["meta"]["location"]}
    cat = people["cat"]
    added = scim.ops(
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": cat["id"], "$ref": cat["meta"]["location"]}]},
    )
    assert _ids(added) == {ann["id"], bob["id"], cat["id"]}


def test_member_given_by_ref_alone_is_the_user_it_names_rfc7643_2_3_7(scim: Scim, people: dict[str, Any]) -> None:
    """$ref without value: the id is the last path segment after "Users", for an absolute URI and for one
    relative to the base URI (RFC 7643 §2.3.7), in POST, PUT and PATCH add / remove."""
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    created = scim.post(
        "/Groups",
        {"displayName": "Sales", "members": [{"$ref": ann["meta"]["location"]}, {"$ref": f"Users/{bob['id']}"}]},
    )
    assert _ids(created) == {ann["id"], bob["id"]}
    url = f"/Groups/{created.get_json()['id']}"
    assert _ids(scim.put(url, {"displayName": "Sales", "members": {"$Ref": cat["meta"]["location"]}})) == {cat["id"]}
    added = scim.ops(url, {"op": "add", "path": "members", "value": [{"$ref": ann["meta"]["location"]}]})
    assert _ids(added) == {ann["id"], cat["id"]}
    removed = scim.ops(url, {"op": "remove", "path": "members", "value": [{"$ref": cat["meta"]["location"]}]})
    assert _ids(removed) == {ann["id"]}
    pathless = scim.ops(url, {"op": "replace", "value": {"members": [{"$ref": bob["meta"]["location"]}]}})
    assert _ids(pathless) == {bob["id"]}


@pytest.mark.parametrize(
    "entry",
    [
        {"$ref": "https://example.test/scim/v2/s/Groups/{ann}"},  # groups do not nest
        {"$ref": "urn:example:not-a-user"},
        {"$ref": 42},
        {"value": "{ann}", "$ref": "https://example.test/scim/v2/s/Users/{bob}"},  # two different members
        {"$ref": "https://example.test/scim/v2/s/Users/no-such-id"},  # no such member
    ],
    ids=["group-ref", "urn", "not-a-string", "value-and-ref-differ", "unknown-id"],
)
def test_member_refs_that_name_no_user_of_the_organization_are_400_rfc7644_3_12(
    app: Any, scim: Scim, people: dict[str, Any], entry: dict[str, Any]
) -> None:
    filled = {
        k: v.format(ann=people["ann"]["id"], bob=people["bob"]["id"]) if isinstance(v, str) else v
        for k, v in entry.items()
    }
    assert_scim_error(scim.post("/Groups", {"displayName": "Sales", "members": [filled]}), 400, "invalidValue")
    group = scim.post("/Groups", {"displayName": "Sales"}).get_json()
    patched = scim.ops(f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [filled]})
    assert_scim_error(patched, 400, "invalidValue")
    assert scim.get(f"/Groups/{group['id']}").get_json()["members"] == []


# ---------------------------------------------------------------- ignored PATCH paths, named in the Sync log


def test_ignored_user_patch_paths_are_noted_in_the_sync_log_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    created = scim.create_user("ann@acme.test")
    response = scim.ops(
        f"/Users/{created['id']}",
        {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
        {"op": "add", "path": "groups", "value": [{"value": "g-1"}]},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:schemas", "value": ["x"]},
        {"op": "replace", "value": {"meta": {"version": 'W/"9"'}, "displayName": "Ann Lee"}},
        {"op": "replace", "path": "meta.lastModified", "value": "2021-01-01T00:00:00Z"},  # noted once
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["displayName"] == "Ann Lee" and "groups" not in response.get_json()
    row = sync_logs(app)[-1]
    assert (row.operation, row.object_type, row.changes["name"]) == ("update", "member", ["Ann", "Ann Lee"])
    assert row.notes == [
        "Ignored PATCH path meta.lastModified: read-only",
        "Ignored PATCH path groups: read-only",
        "Ignored PATCH path schemas: set by the service provider",
        "Ignored PATCH path meta: read-only",
    ]


def test_ignored_group_patch_paths_are_noted_in_the_sync_log_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    group = scim.post("/Groups", {"displayName": "Sales"}).get_json()
    response = scim.ops(
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
        {"op": "remove", "path": "schemas"},
        {"op": "replace", "value": {"displayName": "Sales EMEA", "meta": {"created": "x"}}},
    )
    assert response.status_code == 200 and response.get_json()["displayName"] == "Sales EMEA"
    row = sync_logs(app)[-1]
    assert (row.operation, row.object_type, row.changes) == (
        "update",
        "group",
        {"displayName": ["Sales", "Sales EMEA"]},
    )
    assert row.notes == [
        "Ignored PATCH path meta.lastModified: read-only",
        "Ignored PATCH path schemas: set by the service provider",
        "Ignored PATCH path meta: read-only",
    ]


def test_ignored_path_note_is_shown_in_the_console_sync_log_details(app: Any, org: Any, scim: Scim) -> None:
    """The row's message in the Sync log table is its notes, and its details list them."""
    created = scim.create_user("ann@acme.test")
    scim.ops(f"/Users/{created['id']}", {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01"})
    with app.app_context():
        source_id = db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == scim.source.id))
        log_id = db.session.scalar(sa.select(sa.func.max(SyncLog.id)))
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    base = f"/settings/directory-sync/{source_id}/sync-log"
    assert "Ignored PATCH path meta.lastModified: read-only" in console.get(base).get_data(as_text=True)
    assert "Ignored PATCH path meta.lastModified: read-only" in console.get(f"{base}/{log_id}").get_data(as_text=True)
