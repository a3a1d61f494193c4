"""The read API (issue 16): bearer keys, scopes, cursor pages, filters, ETags, errors, OpenAPI, rate limit."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db, limiter
from portal.models import ApiKey, Member, utcnow
from tests.api.conftest import Api, Directory, assert_api_error, issue_key

pytestmark = pytest.mark.both_databases


def _member_row_id(app: Any, public_id: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Member.id).where(Member.public_id == public_id))


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer dsp_nothing", "Bearer dsp_0123abcd_" + "A" * 43, "Bearer \x00"],
)
def test_a_missing_or_unknown_key_is_401_unauthorized_with_www_authenticate(client: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/members", headers=headers)
    assert_api_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_401_from_its_next_request(app: Any, api: Api, org: Any) -> None:
    from portal.core import api_keys
    from portal.core.actors import Actor

    assert api.get("/members").status_code == 200
    with app.app_context():
        key_id = db.session.scalar(sa.select(ApiKey.id))
        api_keys.revoke_key(org.id, key_id, Actor.cli())
        db.session.commit()
    body = assert_api_error(api.get("/members"), 401, "unauthorized")
    assert "revoked" in body["error"]["message"]


def test_an_expired_key_is_401(app: Any, client: Any, org: Any) -> None:
    api = Api(client, issue_key(app, org, expiry="30"))
    assert api.get("/members").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    body = assert_api_error(api.get("/members"), 401, "unauthorized")
    assert "expired" in body["error"]["message"]


def test_each_endpoint_needs_its_scope_else_403_forbidden(
    app: Any, client: Any, org: Any, directory: Directory
) -> None:
    group = directory.groups["Team of Acme"]
    member = directory.members["Ann Lee"]
    dept = directory.departments["Sales"]
    needs = {
        "/members": {"members:read"},
        f"/members/{member}": {"members:read"},
        "/departments": {"members:read"},
        f"/departments/{dept}": {"members:read"},
        "/workforce-types": {"members:read"},
        "/groups": {"groups:read"},
        f"/groups/{group}": {"groups:read"},
        f"/groups/{group}/members": {"groups:read", "members:read"},
        "/events": {"events:read"},
    }
    for scopes in [("members:read",), ("groups:read",), ("events:read",), ("groups:read", "members:read")]:
        api = Api(client, issue_key(app, org, scopes=scopes))
        for path, needed in needs.items():
            response = api.get(path)
            if needed <= set(scopes):
                assert response.status_code == 200, (scopes, path)
            else:
                assert_api_error(response, 403, "forbidden")


def test_the_key_records_its_last_use(app: Any, api: Api) -> None:
    with app.app_context():
        assert db.session.scalar(sa.select(ApiKey.last_used_at)) is None
    assert api.get("/members").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(ApiKey.last_used_at)) is not None


# ---------------------------------------------------------------- members


def test_cursor_pages_cover_every_member_exactly_once_in_id_order(app: Any, api: Api, org: Any) -> None:
    from portal.core import members
    from portal.core.actors import Actor

    with app.app_context():
        for n in range(23):
            members.create_member(
                org.id, {"name": f"Person {n:02}", "external_id": f"p{n}", "email": f"p{n}@a.test"}, Actor.cli()
            )
        db.session.commit()
        expected = list(
            db.session.scalars(sa.select(Member.public_id).where(Member.org_id == org.id).order_by(Member.id))
        )
    pages = []
    cursor = None
    while True:
        response = api.get("/members", query_string={"limit": 5, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        body = response.get_json()
        pages.append([m["id"] for m in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for page in pages for i in page] == expected
    # The default page is 50.
    assert len(api.get("/members").get_json()["data"]) == 23


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"cursor": "not a cursor"},
        {"cursor": base64.urlsafe_b64encode(b"99999999999").decode()},
        {"status": "gone"},
        {"updated_since": "yesterday"},
        {"colour": "blue"},
    ],
)
def test_a_bad_parameter_is_400_invalid_parameter_naming_it(api: Api, query: dict[str, Any]) -> None:
    body = assert_api_error(api.get("/members", query_string=query), 400, "invalid_parameter")
    assert next(iter(query)) in body["error"]["message"]


def test_the_member_document(app: Any, api: Api, directory: Directory, org: Any) -> None:
    response = api.get(f"/members/{directory.members['Ann Lee']}")
    assert response.status_code == 200
    # No console session for a key; a client may keep the document and revalidate it by its ETag.
    assert "Set-Cookie" not in response.headers and "Authorization" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert api.get("/members").headers["Cache-Control"] == "no-store"
    doc = response.get_json()
    assert doc["id"] == directory.members["Ann Lee"]
    assert doc["user_name"] == "ann@acme.test" and doc["email"] == "ann@acme.test" and doc["name"] == "Ann Lee"
    assert doc["departments"] == [{"id": directory.departments["Backend"], "name": "Backend"}]
    assert doc["job_title"] == "Engineer"
    assert doc["employee_type_id"] == directory.workforce_type_id and doc["employee_type"]
    assert doc["status"] == "active" and doc["source"] is None and doc["manager"] is None
    assert doc["created_at"].endswith("Z") and doc["version"] >= 1
    suspended = api.get(f"/members/{directory.members['Joanne Ray']}").get_json()
    assert suspended["status"] == "suspended"


def test_a_members_page_holds_the_documents_the_member_schema_dumps(app: Any, api: Api, directory: Directory) -> None:
    # The page is dumped field by field (schemas.ManyDump), not by Schema.dump: the same documents.
    from portal.api import queries
    from portal.api.schemas import MemberPageSchema

    page = api.get("/members", query_string={"limit": 200}).get_json()
    with app.app_context():
        docs, _next = queries.members_page(directory.org.id, queries.MemberQuery(), after=0, limit=200)
        assert page == MemberPageSchema().dump({"data": docs, "next_cursor": None})
    assert [doc["name"] for doc in page["data"]] == ["Ann Lee", "Bob Stone", "Joanne Ray"]
    for doc in page["data"]:
        assert api.get(f"/members/{doc['id']}").get_json() == doc


def test_many_dump_falls_back_to_the_schema_for_a_document_lacking_a_key() -> None:
    from portal.api.schemas import ManyDump, MemberSchema

    lacking = {"public_id": "m1", "external_id": "ann@acme.test", "status": "inactive"}
    assert ManyDump(MemberSchema()).dump([lacking]) == [MemberSchema().dump(lacking)]
    assert MemberSchema().dump(lacking)["status"] == "suspended"


@pytest.mark.parametrize("member_id", ["0193c6a1-0000-7000-8000-000000000000", "1", "x" * 37, "%00", "..%2f"])
def test_an_unknown_member_is_404_not_found(api: Api, member_id: str) -> None:
    assert_api_error(api.get(f"/members/{member_id}"), 404, "not_found")


def test_member_filters(app: Any, api: Api, directory: Directory, org: Any) -> None:
    ids = directory.members

    def names(**query: Any) -> set[str]:
        found = {m["id"] for m in api.walk("/members", **query)}
        return {name for name, public_id in ids.items() if public_id in found}

    # A department's members include its sub-departments' (as the console's department filter).
    assert names(department=directory.departments["Engineering"]) == {"Ann Lee", "Joanne Ray"}
    assert names(department=directory.departments["Backend"]) == {"Ann Lee"}
    assert names(department="0193c6a1-0000-7000-8000-000000000000") == set()
    assert names(status="active") == {"Ann Lee", "Bob Stone"}
    assert names(status="suspended") == names(status="inactive") == {"Joanne Ray"}
    assert names(source="console") == set(ids)
    assert names(source="0193c6a1-0000-7000-8000-000000000000") == set()
    # updated_since: the members changed at or after the moment.
    with app.app_context():
        db.session.execute(sa.update(Member).values(updated_at=utcnow() - timedelta(days=2)))
        db.session.execute(
            sa.update(Member)
            .where(Member.public_id == ids["Bob Stone"])
            .values(updated_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    since = (utcnow() - timedelta(days=1)).isoformat() + "Z"
    assert names(updated_since=since) == {"Bob Stone"}
    assert names(updated_since=(utcnow() - timedelta(days=1)).isoformat() + "+02:00") == {"Bob Stone"}
    assert names(status="active", department=directory.departments["Engineering"]) == {"Ann Lee"}


def test_a_sync_source_filter_takes_the_sources_id(app: Any, runner: Any, api: Api, org: Any) -> None:
    from tests.scim.conftest import Scim, add_source

    source = add_source(runner, org.name, "--activate")
    synced = Scim(app.test_client(), source).create_user("sam@acme.test")
    found = api.walk("/members", source=source.id)
    assert [m["id"] for m in found] == [synced["id"]]
    assert found[0]["source"] == {"id": source.id, "name": found[0]["source"]["name"]}
    assert api.walk("/members", source="console") == []


@pytest.mark.parametrize("q", ["an", "ANN", "bob@", "Joanne R", "jo", "ray", "%", "_", "zz", "\x00"])
def test_search_matches_the_same_members_as_the_console(
    app: Any, api: Api, directory: Directory, org: Any, q: str
) -> None:
    from portal.core.member_list import MemberFilter, list_members

    with app.app_context():
        rows, _total = list_members(org.id, MemberFilter(search=q), limit=200, offset=0)
        console = {m.public_id for m in rows}
    assert {m["id"] for m in api.walk("/members", q=q)} == console


def test_a_member_etag_answers_if_none_match_with_304_until_it_changes(
    app: Any, api: Api, directory: Directory, org: Any
) -> None:
    from portal.core import departments, members
    from portal.core.actors import Actor

    path = f"/members/{directory.members['Ann Lee']}"
    first = api.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    same = api.get(path, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    assert api.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    with app.app_context():
        members.update_member(
            org.id, _member_row_id(app, directory.members["Ann Lee"]), {"last_name": "Lee"}, Actor.cli()
        )
        db.session.commit()
    changed = api.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["version"] > first.get_json()["version"]
    # Renaming one of its departments changes what the member's document shows: a new ETag too.
    etag = changed.headers["ETag"]
    with app.app_context():
        from portal.models import Department

        backend = db.session.scalar(
            sa.select(Department.id).where(Department.public_id == directory.departments["Backend"])
        )
        departments.update_department(org.id, backend, Actor.cli(), name="Platform")
        db.session.commit()
    renamed = api.get(path, headers={"If-None-Match": etag})
    assert renamed.status_code == 200 and renamed.get_json()["departments"][0]["name"] == "Platform"


# ---------------------------------------------------------------- departments, groups, workforce types


def test_departments_with_parent_and_path_and_as_a_tree(api: Api, directory: Directory) -> None:
    deps = {d["name"]: d for d in api.walk("/departments", limit=2)}
    assert set(deps) == {"Acme", "Engineering", "Backend", "Sales"}
    assert deps["Acme"]["parent_id"] is None and deps["Acme"]["path"] == ["Acme"]
    assert deps["Backend"]["parent_id"] == directory.departments["Engineering"]
    assert deps["Backend"]["path"] == ["Acme", "Engineering", "Backend"]
    one = api.get(f"/departments/{directory.departments['Backend']}")
    assert one.get_json() == deps["Backend"] and one.headers["ETag"]
    assert (
        api.get(
            f"/departments/{directory.departments['Backend']}", headers={"If-None-Match": one.headers["ETag"]}
        ).status_code
        == 304
    )
    tree = api.get("/departments", query_string={"tree": 1}).get_json()
    assert tree["next_cursor"] is None and len(tree["data"]) == 1
    root = tree["data"][0]
    assert root["name"] == "Acme"
    assert [c["name"] for c in root["children"]] == ["Engineering", "Sales"]
    assert [c["name"] for c in root["children"][0]["children"]] == ["Backend"]
    assert_api_error(api.get("/departments/nope"), 404, "not_found")


def test_groups_their_members_and_workforce_types(app: Any, api: Api, directory: Directory) -> None:
    group_id = directory.groups["Team of Acme"]
    groups = api.walk("/groups")
    assert [(g["id"], g["display_name"], g["member_count"]) for g in groups] == [(group_id, "Team of Acme", 2)]
    one = api.get(f"/groups/{group_id}")
    assert one.get_json() == groups[0]
    assert api.get(f"/groups/{group_id}", headers={"If-None-Match": one.headers["ETag"]}).status_code == 304
    members = api.walk(f"/groups/{group_id}/members", limit=1)
    assert [m["id"] for m in members] == [directory.members["Ann Lee"], directory.members["Bob Stone"]]
    assert members[0]["departments"][0]["name"] == "Backend"
    assert_api_error(api.get("/groups/nope"), 404, "not_found")
    assert_api_error(api.get("/groups/nope/members"), 404, "not_found")
    types = api.get("/workforce-types").get_json()
    assert directory.workforce_type_id in [t["id"] for t in types["data"]] and types["next_cursor"] is None


# ---------------------------------------------------------------- events


def test_events_replay_in_order_after_a_cursor(app: Any, api: Api, directory: Directory, org: Any) -> None:
    from portal.core import members
    from portal.core.actors import Actor

    first = api.get("/events", query_string={"limit": 3}).get_json()
    assert [e["seq"] for e in first["data"]] == [1, 2, 3]
    rest = []
    cursor = first["next_cursor"]
    while True:
        page = api.get("/events", query_string={"after": cursor, "limit": 3}).get_json()
        if not page["data"]:
            assert page["next_cursor"] == cursor  # nothing new: the same cursor to come back with
            break
        rest.extend(page["data"])
        cursor = page["next_cursor"]
    seqs = [e["seq"] for e in first["data"] + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    # A change after the last cursor is the next event read from it.
    with app.app_context():
        made = members.create_member(org.id, {"name": "Cy", "external_id": "cy", "email": "cy@acme.test"}, Actor.cli())
        db.session.commit()
        made_id = made.public_id
    new = api.get("/events", query_string={"after": cursor}).get_json()["data"]
    assert [(e["type"], e["object"]["id"], e["seq"]) for e in new] == [("member.created", made_id, seqs[-1] + 1)]
    assert set(new[0]) >= {"id", "seq", "type", "created_at", "object", "actor", "changed_fields", "attributes"}
    assert_api_error(api.get("/events", query_string={"after": "??"}), 400, "invalid_parameter")


# ---------------------------------------------------------------- the document, errors, limits


def test_the_openapi_document_is_public_json_listing_every_path(app: Any, client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"]
    expected = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert set(doc["paths"]) == expected
    assert expected >= {
        "/api/v1/members",
        "/api/v1/members/{member_id}",
        "/api/v1/departments",
        "/api/v1/departments/{department_id}",
        "/api/v1/groups",
        "/api/v1/groups/{group_id}",
        "/api/v1/groups/{group_id}/members",
        "/api/v1/workforce-types",
        "/api/v1/events",
        "/api/v1/openapi.json",
    }
    member = doc["components"]["schemas"]["Member"]["properties"]
    assert {"id", "user_name", "departments", "status"} <= set(member)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_unknown_urls_and_methods_are_error_documents(api: Api, client: Any) -> None:
    assert_api_error(api.get("/nothing-here"), 404, "not_found")
    assert_api_error(
        client.post("/api/v1/members", headers={"Authorization": f"Bearer {api.key}"}), 405, "method_not_allowed"
    )
    assert_api_error(client.get("/api/v2/members"), 404, "not_found")


def test_rate_limit_is_per_key_and_answers_429_rate_limited(app: Any, client: Any, org: Any) -> None:
    app.config.update(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    limiter.init_app(app)
    one, two = Api(client, issue_key(app, org)), Api(client, issue_key(app, org))
    assert [one.get("/workforce-types").status_code for _ in range(3)] == [200, 200, 200]
    response = one.get("/workforce-types")
    assert_api_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    # Another key of the same organization, from the same address, has its own budget.
    assert two.get("/workforce-types").status_code == 200
