"""GET /Users, GET /Groups and POST .search (RFC 7644 §3.4.2, §3.4.3) against the real app."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, insert, select, text

from portal.core import members
from portal.extensions import db
from portal.models import Member, SyncLog, UserGroup
from scim_blueprint import filters, resources
from tests.scim.conftest import Scim, SourceData
from tests.scim.rows import add_group, add_member, scim_body, source_row, statements

pytestmark = pytest.mark.both_databases

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def three(app: Any, org: Any, source: Any) -> dict[str, str]:
    """Ann, Bob and Cara managed by the source; Dan made in the console (not the source's)."""
    with app.app_context():
        source_id = source_row(source.id).id
        ann = add_member(
            org.id,
            source_id,
            "ann@acme.com",
            name="Ann",
            title="Engineer",
            department="Sales",
            scim_external_id="ext-ann",
            another_name="Annie",
        )
        bob = add_member(org.id, source_id, "bob@acme.com", name="Bob", status="inactive")
        cara = add_member(org.id, source_id, "cara@acme.com", name="Cara", title="Analyst")
        add_member(org.id, None, "dan@acme.com", name="Dan")
        add_group(org.id, source_id, "Sales", [ann, bob], scim_external_id="grp-sales")
        add_group(org.id, source_id, "Support", [cara])
        db.session.commit()
        return {"ann": ann.public_id, "bob": bob.public_id, "cara": cara.public_id}


def names(body: dict[str, Any]) -> list[str]:
    return [r["userName"].split("@")[0] for r in body["Resources"]]


def test_list_users_is_a_list_response_with_integers_rfc7644_3_4_2(scim: Scim, three: Any) -> None:
    response = scim.get("/Users")
    assert response.status_code == 200
    body = scim_body(response)
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == 3 and body["startIndex"] == 1 and body["itemsPerPage"] == 3
    assert all(isinstance(body[k], int) for k in ("totalResults", "startIndex", "itemsPerPage"))
    # Only the source's members (Dan was made in the console), suspended ones included, in a stable order.
    assert names(body) == ["ann", "bob", "cara"]
    ann = body["Resources"][0]
    assert ann["id"] == three["ann"] and ann["title"] == "Engineer" and ann["meta"]["resourceType"] == "User"
    assert body["Resources"][1]["active"] is False


def test_okta_test_connector_first_page_of_two_rfc7644_3_4_2_4(scim: Scim, three: Any) -> None:
    body = scim_body(scim.get("/Users", query_string={"startIndex": "1", "count": "2"}))
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 2 and body["startIndex"] == 1
    assert names(body) == ["ann", "bob"]


def test_okta_lookup_by_username_with_count_100_rfc7644_3_4_2_2(scim: Scim, three: Any) -> None:
    body = scim_body(
        scim.get("/Users", query_string={"filter": 'userName eq "ANN@acme.com"', "startIndex": "1", "count": "100"})
    )
    assert body["totalResults"] == 1 and names(body) == ["ann"]


def test_entra_random_guid_lookup_finds_nothing_rfc7644_3_4_2_2(scim: Scim, three: Any) -> None:
    response = scim.get("/Users", query_string={"filter": f'userName eq "{uuid.uuid4()}"'})
    assert response.status_code == 200
    body = scim_body(response)
    assert body["totalResults"] == 0 and body["Resources"] == [] and body["itemsPerPage"] == 0


def test_entra_external_id_lookup_rfc7644_3_4_2_2(scim: Scim, three: Any) -> None:
    body = scim_body(scim.get("/Users", query_string={"filter": 'externalId eq "ext-ann"'}))
    assert names(body) == ["ann"]


def test_entra_group_lookup_without_members_loads_no_members_rfc7644_3_4_2_5(app: Any, scim: Scim, three: Any) -> None:
    with statements(app) as seen:
        body = scim_body(
            scim.get("/Groups", query_string={"filter": 'displayName eq "sales"', "excludedAttributes": "members"})
        )
    assert body["totalResults"] == 1
    group = body["Resources"][0]
    assert group["displayName"] == "Sales" and "members" not in group and group["externalId"] == "grp-sales"
    assert not [s for s in seen if "group_members" in s]


def test_groups_list_with_members_rfc7643_4_2(scim: Scim, three: Any) -> None:
    body = scim_body(scim.get("/Groups"))
    assert [g["displayName"] for g in body["Resources"]] == ["Sales", "Support"]
    assert {m["value"] for m in body["Resources"][0]["members"]} == {three["ann"], three["bob"]}
    only_names = scim_body(scim.get("/Groups", query_string={"attributes": "displayName"}))["Resources"]
    assert only_names[0].keys() == {"schemas", "id", "displayName"}


def test_start_index_below_one_reads_as_one_and_past_the_end_is_empty_rfc7644_3_4_2_4(scim: Scim, three: Any) -> None:
    for start in ("0", "-5"):
        body = scim_body(scim.get("/Users", query_string={"startIndex": start, "count": "1"}))
        assert body["startIndex"] == 1 and names(body) == ["ann"]
    body = scim_body(scim.get("/Users", query_string={"startIndex": "10"}))
    assert body["totalResults"] == 3 and body["Resources"] == [] and body["startIndex"] == 10
    huge = scim_body(scim.get("/Users", query_string={"startIndex": str(10**20), "count": "5"}))
    assert huge["totalResults"] == 3 and huge["Resources"] == []


def test_count_zero_returns_only_total_rfc7644_3_4_2_4(app: Any, scim: Scim, three: Any) -> None:
    with statements(app) as seen:
        body = scim_body(scim.get("/Users", query_string={"count": "0"}))
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 0 and body["Resources"] == []
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT") and "LIMIT" in s.upper()]
    negative = scim_body(scim.get("/Users", query_string={"count": "-3"}))
    assert negative["itemsPerPage"] == 0 and negative["totalResults"] == 3


def test_bad_paging_parameters_are_invalid_value_rfc7644_3_4_2_4(scim: Scim, three: Any) -> None:
    for query in (
        {"count": "ten"},
        {"startIndex": "1.5"},
        {"sortOrder": "sideways", "sortBy": "userName"},
        {"sortBy": "bogus"},
        {"sortBy": "groups.value"},
        {"sortBy": "schemas"},
    ):
        response = scim.get("/Users", query_string=query)
        assert response.status_code == 400, query
        assert scim_body(response)["scimType"] == "invalidValue"


def test_count_is_capped_at_max_results_rfc7644_3_4_2_4(app: Any, org: Any, scim: Scim, source: Any) -> None:
    with app.app_context():
        source_id = source_row(source.id).id
        db.session.execute(
            insert(Member),
            [
                {
                    "org_id": org.id,
                    "source_id": source_id,
                    "public_id": str(uuid.uuid4()),
                    "external_id": f"u{i}@x.test",
                    "external_id_norm": f"u{i}@x.test",
                    "email": f"u{i}@x.test",
                    "email_norm": f"u{i}@x.test",
                    "name": f"U{i}",
                    "name_norm": f"u{i}",
                    "status": "active",
                    "version": 1,
                }
                for i in range(1005)
            ],
        )
        db.session.commit()
    body = scim_body(scim.get("/Users", query_string={"count": "5000", "attributes": "userName"}))
    assert body["totalResults"] == 1005 and body["itemsPerPage"] == 1000 and len(body["Resources"]) == 1000
    rest = scim_body(scim.get("/Users", query_string={"startIndex": "1001", "attributes": "userName"}))
    assert rest["itemsPerPage"] == 5


def test_pages_are_stable_with_equal_sort_values_rfc7644_3_4_2_4(app: Any, org: Any, source: Any, scim: Scim) -> None:
    with app.app_context():
        source_id = source_row(source.id).id
        for i in range(23):
            add_member(org.id, source_id, f"p{i:02d}@acme.com", name="Same Name")
        db.session.commit()
    for query in ({}, {"sortBy": "displayName"}, {"sortBy": "displayName", "sortOrder": "descending"}):
        seen: list[str] = []
        for start in (1, 11, 21):
            body = scim_body(scim.get("/Users", query_string={**query, "startIndex": str(start), "count": "10"}))
            assert body["totalResults"] == 23
            seen += [r["id"] for r in body["Resources"]]
        assert len(seen) == 23 == len(set(seen)), query


def test_sort_by_and_sort_order_rfc7644_3_4_2_3(scim: Scim, three: Any) -> None:
    def order(**query: str) -> list[str]:
        return names(scim_body(scim.get("/Users", query_string=query)))

    assert order(sortBy="userName", sortOrder="descending") == ["cara", "bob", "ann"]
    assert order(sortBy="USERNAME") == ["ann", "bob", "cara"]
    # No value: last when ascending, first when descending.
    assert order(sortBy="nickName") == ["ann", "bob", "cara"]
    assert order(sortBy="nickName", sortOrder="descending")[-1] == "ann"
    assert order(sortBy="title") == ["cara", "ann", "bob"]
    assert order(sortBy="title", sortOrder="descending") == ["bob", "ann", "cara"]
    assert order(sortBy="meta.created", sortOrder="descending") == ["cara", "bob", "ann"]
    assert order(sortBy="emails.value", sortOrder="descending") == ["cara", "bob", "ann"]


def test_attributes_and_excluded_attributes_on_list_rfc7644_3_4_2_5(scim: Scim, three: Any) -> None:
    body = scim_body(scim.get("/Users", query_string={"attributes": "userName,name.givenName", "count": "1"}))
    assert body["Resources"][0].keys() == {"schemas", "id", "userName"}
    body = scim_body(scim.get("/Users", query_string={"excludedAttributes": "emails,groups,meta", "count": "1"}))
    resource = body["Resources"][0]
    assert "emails" not in resource and "groups" not in resource and "meta" not in resource
    assert resource["userName"] == "ann@acme.com" and resource["id"] == three["ann"]


def test_invalid_filter_is_400_invalid_filter_rfc7644_3_4_2_2(scim: Scim, three: Any) -> None:
    for bad in ("userName eq", 'nosuch eq "x"', "active gt true", 'userName regex "a"'):
        response = scim.get("/Users", query_string={"filter": bad})
        assert response.status_code == 400, bad
        body = scim_body(response)
        assert body["scimType"] == "invalidFilter" and body["status"] == "400"
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_reads_write_no_sync_log_rfc7644_3_4_2(app: Any, scim: Scim, three: Any) -> None:
    scim.get("/Users", query_string={"filter": 'userName eq "ann@acme.com"'})
    scim.get("/Groups")
    scim.post("/.search", {"schemas": [SEARCH]})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncLog)) == 0


def test_a_rejected_read_leaves_one_failure_row_rfc7644_3_12(app: Any, scim: Scim, three: Any) -> None:
    assert scim.get("/Users", query_string={"filter": "userName zz 1"}).status_code == 400
    with app.app_context():
        rows = db.session.scalars(select(SyncLog)).all()
        assert [(r.result, r.status_code, r.scim_type) for r in rows] == [("failure", 400, "invalidFilter")]


def test_list_and_search_need_the_token_rfc7644_2(scim: Scim, three: Any) -> None:
    for method, path in (("GET", "/Users"), ("GET", "/Groups"), ("POST", "/.search"), ("POST", "/Users/.search")):
        response = scim.request(method, path, {"schemas": [SEARCH]} if method == "POST" else None, token="wrong")
        assert response.status_code == 401 and "Resources" not in response.get_data(as_text=True)


def test_search_users_with_a_search_request_body_rfc7644_3_4_3(scim: Scim, three: Any) -> None:
    response = scim.post(
        "/Users/.search",
        {
            "schemas": [SEARCH],
            "filter": 'userName sw "b" or userName sw "c"',
            "attributes": ["userName", "active"],
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 10,
        },
    )
    assert response.status_code == 200
    body = scim_body(response)
    assert body["totalResults"] == 2 and names(body) == ["cara", "bob"]
    assert body["Resources"][1].keys() == {"schemas", "id", "userName", "active"}


def test_search_groups_and_excluded_attributes_rfc7644_3_4_3(scim: Scim, three: Any) -> None:
    body = scim_body(
        scim.post(
            "/Groups/.search",
            {"schemas": [SEARCH], "filter": f'members.value eq "{three["cara"]}"', "excludedAttributes": ["members"]},
        )
    )
    assert [g["displayName"] for g in body["Resources"]] == ["Support"] and "members" not in body["Resources"][0]


def test_root_search_spans_users_then_groups_rfc7644_3_4_3(scim: Scim, three: Any) -> None:
    body = scim_body(scim.post("/.search", {"schemas": [SEARCH], "count": 4}))
    assert body["totalResults"] == 5 and body["itemsPerPage"] == 4
    kinds = [r["meta"]["resourceType"] for r in body["Resources"]]
    assert kinds == ["User", "User", "User", "Group"]
    second = scim_body(scim.post("/.search", {"schemas": [SEARCH], "startIndex": 5}))
    assert [r["displayName"] for r in second["Resources"]] == ["Support"]
    # An attribute only Groups have searches Groups only.
    only_groups = scim_body(scim.post("/.search", {"schemas": [SEARCH], "filter": "members pr"}))
    assert only_groups["totalResults"] == 2


def test_search_body_must_be_a_search_request_rfc7644_3_4_3(scim: Scim, three: Any) -> None:
    for raw in ("[1, 2]", "{not json", '{"schemas": ["urn:wrong"]}'):
        response = scim.post("/Users/.search", raw=raw)
        assert response.status_code == 400, raw
        assert scim_body(response)["scimType"] == "invalidSyntax"
    assert scim.post("/Users/.search", {"filter": "userName pr"}).status_code == 200


def test_trailing_or_doubled_slash_is_tolerated_rfc7644_3_3(scim: Scim, three: Any) -> None:
    assert scim_body(scim.get("/Users/"))["totalResults"] == 3
    assert scim_body(scim.get("//Groups", query_string={"filter": 'displayName eq "Sales"'}))["totalResults"] == 1
    assert scim_body(scim.post("//Users/.search/", {"filter": "userName pr"}))["totalResults"] == 3
    assert scim_body(scim.get("/ServiceProviderConfig/"))["filter"]["maxResults"] == 1000


def test_a_page_of_users_costs_a_bounded_number_of_statements_rfc7644_3_4_2_4(
    app: Any, org: Any, source: Any, scim: Scim
) -> None:
    with app.app_context():
        source_id = source_row(source.id).id
        boss = add_member(org.id, source_id, "boss@acme.com", name="Boss", title="Chief", department="Board")
        made = []
        for i in range(200):
            made.append(
                add_member(
                    org.id,
                    source_id,
                    f"m{i:03d}@acme.com",
                    title=f"Title {i % 7}",
                    department=f"Dept {i % 5}",
                    manager=boss if i % 2 else None,
                    mobile="+1 555",
                    work_country="DE",
                )
            )
        for j in range(4):
            add_group(org.id, source_id, f"Group {j}", made[j::4])
        db.session.commit()

    def cost(count: int) -> int:
        with statements(app) as seen:
            body = scim_body(scim.get("/Users", query_string={"count": str(count)}))
        assert body["itemsPerPage"] == count
        assert all(r["title"].startswith(("Title", "Chief")) for r in body["Resources"])
        # The source's last-request bookkeeping is throttled by time: not part of the page's cost.
        return len([statement for statement in seen if not statement.startswith("UPDATE sync_sources")])

    small, large = cost(20), cost(200)
    assert large == small and large <= 8


def _plan(conn: Any, statement: Any) -> str:
    compiled = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # small tables: ask whether an index CAN serve it
        return "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + compiled)))
    return "\n".join(str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + compiled)))


@pytest.mark.parametrize(
    "kind, expression, column",
    [
        ("User", 'userName eq "ann@acme.com"', "external_id_norm"),
        ("User", 'emails.value eq "ann@acme.com"', "email_norm"),
        ("User", 'emails[type eq "work"].value eq "ann@acme.com"', "email_norm"),
        ("User", 'externalId eq "ext-ann"', "scim_external_id"),
        ("User", 'id eq "{ann}"', "public_id"),
        ("User", 'displayName eq "ann"', "name_norm"),
        ("Group", 'displayName eq "Sales"', "display_name_norm"),
        ("Group", 'id eq "{ann}"', "public_id"),
    ],
)
def test_lookup_filters_use_an_index_rfc7644_3_4_2_2(
    app: Any, source: Any, three: Any, kind: str, expression: str, column: str
) -> None:
    model = Member if kind == "User" else UserGroup
    scope = resources.user_scope if kind == "User" else resources.group_scope
    with app.app_context():
        src = source_row(source.id)
        # A populated directory with statistics, as the planner sees one in production.
        for i in range(60):
            add_member(src.org_id, src.id, f"filler{i}@acme.com", scim_external_id=f"ext-{i}")
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        src = source_row(source.id)
        statement = select(model).where(*scope(src), filters.to_sql(kind, expression.format(**three)))
        with db.engine.begin() as conn:
            plan = _plan(conn, statement)
            dialect = conn.dialect.name
    if dialect == "postgresql":
        assert "Seq Scan" not in plan and "Index Cond: " in plan and column in plan.split("Index Cond: ")[1], plan
    else:
        # e.g. "SEARCH members USING INDEX sqlite_autoindex_members_3 (org_id=? AND external_id_norm=?)"
        assert "USING" in plan and "INDEX" in plan and f"{column}=?" in plan, (plan, str(statement))


def test_a_member_read_looks_its_title_type_and_manager_up_by_key_whatever_the_statistics_rfc7644_3_4_1(
    app: Any, source: Any
) -> None:
    """Every GET, PUT, PATCH and DELETE reads the member with its job title, employee type and manager.
    Statistics taken while the organization had one job title once made SQLite scan job_titles for every
    member read after the titles had grown (225 µs a read at 5,000 titles): the read must reach them by
    their primary key, as an identity provider that sets a new title on each PUT makes them grow."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's planner: PostgreSQL scales its statistics to a table's current size")
        src = source_row(source.id)
        ann = add_member(src.org_id, src.id, "ann@acme.com", title="Engineer").public_id
        db.session.commit()
        db.session.execute(text("ANALYZE"))  # one job title, one member
        db.session.commit()
        for i in range(300):
            add_member(src.org_id, src.id, f"titled{i}@acme.com", title=f"Title {i}")
        db.session.commit()
        statement = members.select_records(Member.__table__.c.public_id == ann)
        with db.engine.begin() as conn:
            plan = _plan(conn, statement)
    scans = [line for line in plan.splitlines() if line.startswith("SCAN")]
    assert not scans, plan
    assert "SEARCH member_title USING INTEGER PRIMARY KEY" in plan, plan
    assert "SEARCH manager USING INTEGER PRIMARY KEY" in plan, plan


def test_another_sources_token_sees_nothing_of_this_source_rfc7644_3_4_2(
    app: Any, org: Any, client: Any, three: Any
) -> None:
    from portal.core import sync_sources
    from portal.core.actors import Actor

    with app.app_context():
        okta, token = sync_sources.create_source(org.id, "okta", Actor.cli())
        sync_sources.set_active(org.id, okta.id, True, Actor.cli())
        db.session.commit()
        other = Scim(client, SourceData(okta.public_id, "", token))
    assert scim_body(other.get("/Users"))["totalResults"] == 0


_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-5, 5000).map(str),
    st.integers().map(str),
    st.sampled_from(
        [
            "userName",
            "title",
            "meta.created",
            "groups.value",
            "members",
            "ascending",
            "descending",
            "userName pr",
            'emails[type eq "work"]',
            ",",
            "",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["filter", "startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes"]),
        _VALUES,
        max_size=5,
    ),
    st.sampled_from(["/Users", "/Groups"]),
)
def test_no_query_parameters_give_a_server_error_rfc7644_3_4_2(
    scim: Scim, three: Any, query: dict[str, str], path: str
) -> None:
    response = scim.get(path, query_string=query)
    assert response.status_code in (200, 400), (query, response.get_data(as_text=True))
    body = scim_body(response)
    assert body["schemas"] == (
        [LIST] if response.status_code == 200 else ["urn:ietf:params:scim:api:messages:2.0:Error"]
    )


def test_username_lookup_answers_as_the_general_filter_does_rfc7644_3_4_2_2(scim: Scim) -> None:
    """`userName eq "..."` (every IdP's lookup before a create) has a prepared statement: same answer, any case."""
    created = scim.create_user('O"Brien@acme.test')
    for lookup in ('userName eq "o\\"brien@ACME.test"', '  USERNAME eq "O\\"Brien@acme.test"  '):
        fast = scim.get("/Users", query_string={"filter": lookup}).get_json()
        general = scim.get("/Users", query_string={"filter": f"({lookup}) and userName pr"}).get_json()
        assert fast == general
        assert fast["totalResults"] == 1 and fast["Resources"][0]["id"] == created["id"]
    none = scim.get("/Users", query_string={"filter": 'userName eq "nobody@acme.test"'}).get_json()
    assert (none["totalResults"], none["Resources"]) == (0, [])
