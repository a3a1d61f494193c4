"""SCIM Groups: user groups of the organization managed by the source (RFC 7643 §4.2, RFC 7644 §3.5.2)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Member, UserGroup, group_members
from tests.factories import make_org
from tests.scim.conftest import GROUP_SCHEMA, Scim, add_source, assert_scim_error, sync_logs

pytestmark = pytest.mark.both_databases


@pytest.fixture
def people(scim: Scim) -> list[str]:
    return [scim.create_user(f"{name}@acme.test")["id"] for name in ("ann", "bob", "cat")]


def _member_ids(app: Any, display_name: str) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                sa.select(Member.public_id)
                .join(group_members, group_members.c.member_id == Member.id)
                .join(UserGroup, UserGroup.id == group_members.c.group_id)
                .where(UserGroup.display_name == display_name)
            )
        )


def _group(scim: Scim, name: str = "Sales", members: list[str] | None = None) -> dict[str, Any]:
    response = scim.post(
        "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in members or []]}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_group_with_members_and_source_as_data_source_rfc7644_3_3(
    app: Any, scim: Scim, people: list[str]
) -> None:
    created = _group(scim, "Sales", people[:2])
    assert created["displayName"] == "Sales" and {m["value"] for m in created["members"]} == set(people[:2])
    assert created["meta"]["resourceType"] == "Group" and created["meta"]["location"].endswith(created["id"])
    with app.app_context():
        assert db.session.scalar(sa.select(UserGroup.source_id)) is not None
    (*_, row) = sync_logs(app)
    assert row.operation == "create" and row.object_type == "group" and row.object_name == "Sales"
    assert row.changes["members added"] == [None, ["ann@acme.test", "bob@acme.test"]]


def test_display_name_unique_case_insensitive_409_rfc7644_3_3(app: Any, scim: Scim) -> None:
    _group(scim, "Sales")
    assert_scim_error(scim.post("/Groups", {"displayName": "SALES"}), 409, "uniqueness")
    assert_scim_error(scim.post("/Groups", {"members": []}), 400, "invalidValue")


def test_members_must_be_of_the_same_organization_400_invalid_value(
    app: Any, runner: Any, client: Any, scim: Scim
) -> None:
    """Issue 3, Groups: members are member ids of the same organization (RFC 7644 §3.12 invalidValue)."""
    other = Scim(client, add_source(runner, make_org(app, "Globex", "o@globex.test").name, "--activate"))
    outsider = other.create_user("zed@globex.test")["id"]
    for members in ([{"value": outsider}], [{"value": "no-such-id"}]):
        assert_scim_error(scim.post("/Groups", {"displayName": "G", "members": members}), 400, "invalidValue")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserGroup)) == 0


def test_patch_adds_removes_and_replaces_members_rfc7644_3_5_2(app: Any, scim: Scim, people: list[str]) -> None:
    group = _group(scim, "Sales", [people[0]])
    url = f"/Groups/{group['id']}"
    ann, bob, cat = people
    assert scim.ops(url, {"op": "add", "path": "members", "value": [{"value": bob}, {"value": ann}]}).status_code == 200
    assert _member_ids(app, "Sales") == {ann, bob}
    scim.ops(url, {"op": "remove", "path": f'members[value eq "{ann}"]'})
    assert _member_ids(app, "Sales") == {bob}
    body = scim.ops(url, {"op": "replace", "path": "members", "value": [{"value": cat}]}).get_json()
    assert [m["value"] for m in body["members"]] == [cat]
    scim.ops(url, {"op": "remove", "path": "members"})
    assert _member_ids(app, "Sales") == set()
    changes = [r.changes for r in sync_logs(app) if r.object_type == "group"]
    assert changes[1] == {"members added": [None, ["bob@acme.test"]]}
    assert changes[3] == {"members added": [None, ["cat@acme.test"]], "members removed": [["bob@acme.test"], None]}


def test_entra_legacy_remove_removes_only_the_listed_members_entra(app: Any, scim: Scim, people: list[str]) -> None:
    group = _group(scim, "Sales", people)
    response = scim.ops(f"/Groups/{group['id']}", {"op": "Remove", "path": "members", "value": [{"value": people[1]}]})
    assert response.status_code == 200
    assert _member_ids(app, "Sales") == {people[0], people[2]}


def test_okta_pathless_rename_with_id_okta(app: Any, scim: Scim) -> None:
    group = _group(scim, "Sales")
    response = scim.ops(
        f"/Groups/{group['id']}", {"op": "replace", "value": {"id": group["id"], "displayName": "Revenue"}}
    )
    assert response.status_code == 200 and response.get_json()["displayName"] == "Revenue"
    assert response.get_json()["meta"]["version"] == 'W/"2"'


def test_patch_with_excluded_members_is_204_and_never_loads_members_rfc7644_3_5_2(
    app: Any, scim: Scim, people: list[str]
) -> None:
    group = _group(scim, "Sales", people[:1])
    statements: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        response = scim.ops(
            f"/Groups/{group['id']}?excludedAttributes=members",
            {"op": "add", "path": "members", "value": [{"value": people[1]}]},
        )
        assert response.status_code == 204 and response.data == b""
        get = scim.get(f"/Groups/{group['id']}?excludedAttributes=members")
        assert "members" not in get.get_json()
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    loads = [s for s in statements if "FROM members" in s and "group_members" in s]
    assert loads == [], loads
    assert _member_ids(app, "Sales") == set(people[:2])


def test_patch_id_is_mutability_error_and_bad_member_filter_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    group = _group(scim, "Sales")
    url = f"/Groups/{group['id']}"
    assert_scim_error(scim.ops(url, {"op": "replace", "path": "id", "value": "x"}), 400, "mutability")
    assert_scim_error(scim.ops(url, {"op": "remove", "path": 'members[display eq "x"]'}), 400, "invalidFilter")
    assert_scim_error(scim.ops(url, {"op": "remove", "path": "displayName"}), 400, "invalidValue")
    assert_scim_error(
        scim.ops(url, {"op": "replace", "path": "members", "value": [{"display": "x"}]}), 400, "invalidValue"
    )


def test_put_replaces_name_and_members_rfc7644_3_5_1(app: Any, scim: Scim, people: list[str]) -> None:
    group = _group(scim, "Sales", people[:2])
    body = scim.put(
        f"/Groups/{group['id']}", {"displayName": "Revenue", "externalId": "okta-g1", "members": [{"value": people[2]}]}
    ).get_json()
    assert body["displayName"] == "Revenue" and body["externalId"] == "okta-g1"
    assert _member_ids(app, "Revenue") == {people[2]}
    assert_scim_error(scim.put("/Groups/unknown", {"displayName": "X"}), 404)


def test_delete_group_leaves_members_untouched_rfc7644_3_6(app: Any, scim: Scim, people: list[str]) -> None:
    group = _group(scim, "Sales", people)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert_scim_error(scim.get(f"/Groups/{group['id']}"), 404)
    assert_scim_error(scim.delete(f"/Groups/{group['id']}"), 404)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Member)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(group_members)) == 0
    assert scim.get(f"/Users/{people[0]}").status_code == 200


def test_group_etag_if_match_rfc7644_3_14(scim: Scim, people: list[str]) -> None:
    group = _group(scim, "Sales")
    url = f"/Groups/{group['id']}"
    assert scim.get(url).headers["ETag"] == 'W/"1"'
    assert_scim_error(
        scim.ops(url, {"op": "add", "path": "members", "value": [{"value": people[0]}]}, headers={"If-Match": 'W/"5"'}),
        412,
    )
    ok = scim.ops(url, {"op": "add", "path": "members", "value": [{"value": people[0]}]}, headers={"If-Match": 'W/"1"'})
    assert ok.headers["ETag"] == 'W/"2"'
