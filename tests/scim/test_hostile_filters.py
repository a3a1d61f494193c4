"""Hostile filters and paths with a valid token (issue 12): bounded cost, and a SCIM error rather than a 500.

A filter is bounded in length, comparisons, nesting depth and conditions on groups or
members, checked before it is parsed, and refused past a bound with 400 invalidFilter
(RFC 7644 §3.4.2.2, §3.12). What a bounded filter may still cost is bounded by a time
budget on the list's statements (PostgreSQL statement_timeout, a SQLite progress
handler): past it the answer is 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3).
Values no column can hold (NUL, a lone surrogate) and out-of-range dates are
refused before they reach the database.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import insert, select, text

from portal.extensions import db
from portal.models import Member, UserGroup, group_members
from scim_blueprint import filters, query
from scim_blueprint.errors import ScimError
from tests.scim.conftest import Scim, assert_scim_error, sync_logs
from tests.scim.rows import add_group, add_member, scim_body, source_row

pytestmark = pytest.mark.both_databases

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def counting_to(n: int) -> str:
    """A statement that counts to n row by row: 200 million runs for many seconds on either database."""
    return f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c"


@pytest.fixture
def people(app: Any, org: Any, source: Any) -> dict[str, str]:
    """Ann and Bob in Sales, Cara in Support, all managed by the source."""
    with app.app_context():
        source_id = source_row(source.id).id
        ann = add_member(org.id, source_id, "ann@acme.com", name="Ann")
        bob = add_member(org.id, source_id, "bob@acme.com", name="Bob")
        cara = add_member(org.id, source_id, "cara@acme.com", name="Cara")
        add_group(org.id, source_id, "Sales", [ann, bob])
        add_group(org.id, source_id, "Support", [cara])
        db.session.commit()
        return {"ann": ann.public_id, "bob": bob.public_id, "cara": cara.public_id}


def search(scim: Scim, filter_text: str, path: str = "/Users/.search", **extra: Any) -> Any:
    """POST a SearchRequest (RFC 7644 §3.4.3) with this filter."""
    return scim.post(path, {"schemas": [SEARCH], "filter": filter_text, **extra})


def user_names(response: Any) -> set[str]:
    return {resource["userName"] for resource in scim_body(response)["Resources"]}


# ---------------------------------------------------------------- bounds on a filter's cost (issue 12 item 1)


def test_two_hundred_group_terms_answer_400_invalid_filter_at_once_rfc7644_3_4_2_2(scim: Scim, people: Any) -> None:
    # The red team's filter: 100 such terms took 15 s on SQLite, 200 killed the worker.
    filter_text = " or ".join(f'groups[display co "zz{i}"]' for i in range(200))
    started = time.monotonic()
    response = search(scim, filter_text, count=1)
    assert time.monotonic() - started < 5  # bounds the hang the issue describes; refused before any query runs
    body = assert_scim_error(response, 400, "invalidFilter")
    assert f"the limit is {filters.MAX_FILTER_LENGTH}" in body["detail"]


def _or_terms(count: int, template: str = 'userName eq "u{i}@acme.com"') -> str:
    return " or ".join(template.format(i=i) for i in range(count))


@pytest.mark.parametrize(
    ("filter_text", "detail"),
    [
        pytest.param(
            'userName eq "' + "a" * (filters.MAX_FILTER_LENGTH - 13) + '"',
            f"characters long; the limit is {filters.MAX_FILTER_LENGTH}",
            id="length",
        ),
        pytest.param(
            _or_terms(filters.MAX_FILTER_TERMS + 1),
            f"{filters.MAX_FILTER_TERMS + 1} comparisons; the limit is {filters.MAX_FILTER_TERMS}",
            id="terms",
        ),
        pytest.param(
            "(" * (filters.MAX_FILTER_DEPTH + 1) + 'userName eq "a"' + ")" * (filters.MAX_FILTER_DEPTH + 1),
            f"nests {filters.MAX_FILTER_DEPTH + 1} levels deep (parentheses, not, brackets); "
            f"the limit is {filters.MAX_FILTER_DEPTH}",
            id="depth-parentheses",
        ),
        pytest.param(
            "not (" * (filters.MAX_FILTER_DEPTH + 1) + 'userName eq "a"' + ")" * (filters.MAX_FILTER_DEPTH + 1),
            f"the limit is {filters.MAX_FILTER_DEPTH}",
            id="depth-not",
        ),
        pytest.param(
            _or_terms(filters.MAX_FILTER_VALUE_PATHS + 1, 'groups[display eq "g{i}"]'),
            f"{filters.MAX_FILTER_VALUE_PATHS + 1} conditions on groups or members",
            id="value-filters",
        ),
        pytest.param(
            _or_terms(filters.MAX_FILTER_VALUE_PATHS + 1, 'groups.display co "g{i}"'),
            f"the limit is {filters.MAX_FILTER_VALUE_PATHS}",
            id="group-attribute-paths",
        ),
    ],
)
def test_a_filter_past_any_bound_is_400_invalid_filter_naming_the_bound_rfc7644_3_4_2_2(
    scim: Scim, people: Any, filter_text: str, detail: str
) -> None:
    body = assert_scim_error(search(scim, filter_text), 400, "invalidFilter")
    assert detail in body["detail"]
    # The same bound on GET (§3.4.2): the filter in the query string.
    body = assert_scim_error(scim.get(f"/Users?filter={quote(filter_text)}"), 400, "invalidFilter")
    assert detail in body["detail"]


def test_a_filter_past_the_value_path_bound_on_groups_names_members_rfc7644_3_4_2_2(scim: Scim, people: Any) -> None:
    filter_text = _or_terms(filters.MAX_FILTER_VALUE_PATHS + 1, 'members[value eq "m{i}"]')
    body = assert_scim_error(search(scim, filter_text, "/Groups/.search"), 400, "invalidFilter")
    assert f"the limit is {filters.MAX_FILTER_VALUE_PATHS}" in body["detail"]


def test_a_filter_at_every_bound_at_once_still_answers_rfc7644_3_4_2_2(scim: Scim, people: Any) -> None:
    """At the limit of length, comparisons, depth and value paths together: 200 and the right users."""
    groups = ['groups[display eq "Sales"]'] + [f'groups[display eq "None{i}"]' for i in range(1, 10)]
    names = ['userName eq "cara@acme.com"'] + [f'userName eq "nobody{i}@acme.com"' for i in range(1, 40)]
    inner = " or ".join(groups + names)
    # Eight "not (" (an even number: they cancel) and one "(" around it; the brackets make ten levels.
    wrapped = "not (" * 8 + "(" + inner + ")" + ")" * 8
    # Pad the last userName so the filter is exactly as long as the bound allows.
    filter_text = wrapped.replace("nobody39@", "nobody39" + "x" * (filters.MAX_FILTER_LENGTH - len(wrapped)) + "@")
    assert len(filter_text) == filters.MAX_FILTER_LENGTH
    assert filter_text.count(" eq ") == filters.MAX_FILTER_TERMS
    assert filter_text.count("groups[") == filters.MAX_FILTER_VALUE_PATHS
    response = search(scim, filter_text)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_names(response) == {"ann@acme.com", "bob@acme.com", "cara@acme.com"}
    assert scim_body(response)["totalResults"] == 3
    # Negated once more it keeps none of them (nine "not": depth ten with no bracket inside).
    negated = "not (" * 9 + "(" + " or ".join(names[:1] + ['userName eq "ann@acme.com"']) + ")" + ")" * 9
    response = search(scim, negated)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_names(response) == {"bob@acme.com"}


def test_a_paren_or_operator_inside_a_value_does_not_count_against_the_bounds_rfc7644_3_4_2_2(
    app: Any, org: Any, source: Any, scim: Scim
) -> None:
    # Past every bound if it were counted: 11 parentheses, 51 operators, 11 brackets (and a short name).
    odd = "(" * 11 + " eq" * 51 + "[" * 11 + " groups members"
    with app.app_context():
        add_member(org.id, source_row(source.id).id, "odd@acme.com", name=odd)
        db.session.commit()
    response = search(scim, f"displayName eq {json.dumps(odd)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_names(response) == {"odd@acme.com"}


def test_deep_parentheses_are_refused_by_the_scan_before_the_recursive_parser_rfc7644_3_4_2_2(
    scim: Scim, people: Any
) -> None:
    # 2,000 levels (RecursionError in the parser from about 500) still fit in the length bound.
    filter_text = "(" * 2000 + "id pr" + ")" * 2000
    body = assert_scim_error(search(scim, filter_text), 400, "invalidFilter")
    assert "nests 2000 levels deep" in body["detail"]


# ---------------------------------------------------------------- no 500 with a valid token (issue 12 item 2)


@pytest.mark.parametrize(
    ("filter_text", "detail"),
    [
        pytest.param('userName eq "\\ud800"', "unpaired surrogate", id="lone-surrogate-fast-path"),
        pytest.param('displayName co "a\\udfff"', "unpaired surrogate", id="lone-surrogate"),
        pytest.param('userName eq "a\\u0000"', "NUL", id="nul-fast-path"),
        pytest.param('emails[value sw "\\u0000"]', "NUL", id="nul-in-value-filter"),
        pytest.param('meta.created gt "0001-01-01T00:00:00+01:00"', "out of the range", id="datetime-underflow"),
        pytest.param('meta.lastModified lt "9999-12-31T23:59:59-01:00"', "out of the range", id="datetime-overflow"),
        pytest.param("not (" * 30 + 'userName eq "a"' + ")" * 30, "nests 30 levels", id="not-30-deep"),
        pytest.param('userName co "' + "a" * 50_001 + '"', "characters long", id="like-pattern-co"),
        pytest.param('displayName sw "' + "%" * 50_001 + '"', "characters long", id="like-pattern-sw"),
        pytest.param("(" * 500 + 'userName eq "a"' + ")" * 500, "nests 500 levels", id="parentheses-500"),
        pytest.param(_or_terms(1000, "id pr"), "characters long", id="terms-1000"),
    ],
)
def test_hostile_filter_answers_400_invalid_filter_not_500_rfc7644_3_12(
    app: Any, scim: Scim, people: Any, filter_text: str, detail: str
) -> None:
    body = assert_scim_error(search(scim, filter_text), 400, "invalidFilter")
    assert detail in body["detail"]
    # The refusal is one sync log row, as every failed request is: the detail holds no NUL either.
    rows = [row for row in sync_logs(app) if row.status_code == 400]
    assert len(rows) == 1 and rows[0].scim_type == "invalidFilter"


def test_hostile_values_in_a_get_query_string_never_answer_500_rfc7644_3_4_2_2(scim: Scim, people: Any) -> None:
    # A JSON escape for a lone surrogate, and a raw NUL, in the query string.
    for raw in ('userName eq "\\ud800"', 'userName eq "a\x00"', 'userName eq "a\\u0000"'):
        assert_scim_error(scim.get(f"/Users?filter={quote(raw)}"), 400, "invalidFilter")
    # %ED%A0%80 is an encoded surrogate, not UTF-8: it reads as U+FFFD, which no user has.
    response = scim.get("/Users?filter=userName%20eq%20%22%ED%A0%80%22")
    assert response.status_code == 200
    assert scim_body(response)["totalResults"] == 0


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_id_with_nul_is_404_for_every_method_rfc7644_3_4_1(
    app: Any, scim: Scim, people: Any, resource: str, method: str
) -> None:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "X"}],
    }
    if method == "PUT":
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@acme.com"}
        if resource == "Groups":
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "X"}
    response = scim.request(method, f"/{resource}/%00", body if method in ("PUT", "PATCH") else None)
    assert_scim_error(response, 404)
    # The failure is logged like any other, its path with the NUL replaced (no database column takes one).
    rows = sync_logs(app)
    assert [row.status_code for row in rows] == [404]
    assert rows[0].path == f"/scim/v2/{scim.source.id}/{resource}/\ufffd"


def test_a_source_id_with_nul_without_a_token_is_404_like_an_unknown_source_rfc7644_3_12(
    client: Any, source: Any
) -> None:
    unknown = client.get("/scim/v2/no-such-source/Users")
    assert_scim_error(unknown, 404)
    response = client.get("/scim/v2/%00/Users")
    body = assert_scim_error(response, 404)
    assert body["detail"] == unknown.get_json(force=True)["detail"]


# ---------------------------------------------------------------- the time budget of a list


def test_the_deadline_stops_a_slow_statement_with_503_and_retry_after(app: Any) -> None:
    """The guarded executor itself: a statement that would run for seconds stops at the budget."""
    with app.app_context():
        started = time.monotonic()
        with pytest.raises(ScimError) as refused, query.Deadline(50) as budget:
            budget.before_statement()
            db.session.execute(text(counting_to(200_000_000)))
        assert time.monotonic() - started < 5  # stopped, not run to its end (a bound, not a measurement)
        assert refused.value.status == 503
        assert refused.value.headers == {"Retry-After": "1"}
        assert "50 ms" in refused.value.detail
        db.session.rollback()
        # The connection serves the next statement, with no budget left behind.
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        if db.engine.dialect.name == "postgresql":
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"
        db.session.rollback()


def test_the_deadline_leaves_nothing_behind_when_the_statements_finish_in_time(app: Any) -> None:
    with app.app_context():
        with query.Deadline(50) as budget:
            budget.before_statement()
            assert db.session.execute(text("SELECT 1")).scalar() == 1
        # The same transaction, past the budget: neither a statement_timeout nor a progress handler is left.
        time.sleep(0.1)
        if db.engine.dialect.name == "postgresql":
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"
        assert db.session.execute(text(counting_to(100_000))).scalar() == 100_000
        db.session.rollback()


def test_a_list_past_its_budget_answers_503_and_the_next_request_is_served(
    app: Any, org: Any, source: Any, scim: Scim
) -> None:
    """A heavy filter within every bound, with a 1 ms budget (SCIM_QUERY_TIMEOUT_MS): 503, then service again."""
    with app.app_context():
        source_id = source_row(source.id).id
        db.session.execute(
            insert(Member),
            [
                {
                    "org_id": org.id,
                    "source_id": source_id,
                    "external_id": f"u{i}@acme.com",
                    "external_id_norm": f"u{i}@acme.com",
                    "email": f"u{i}@acme.com",
                    "email_norm": f"u{i}@acme.com",
                    "name": f"U{i}",
                    "name_norm": f"u{i}",
                }
                for i in range(1500)
            ],
        )
        db.session.execute(
            insert(UserGroup),
            [
                {"org_id": org.id, "source_id": source_id, "display_name": f"g{i}", "display_name_norm": f"g{i}"}
                for i in range(20)
            ],
        )
        member_ids = db.session.scalars(select(Member.id)).all()
        group_ids = db.session.scalars(select(UserGroup.id)).all()
        db.session.execute(
            insert(group_members), [{"group_id": g, "member_id": m} for g in group_ids for m in member_ids[:600]]
        )
        db.session.commit()
    heavy = _or_terms(filters.MAX_FILTER_VALUE_PATHS, 'groups[display co "zz{i}"]')
    app.config["SCIM_QUERY_TIMEOUT_MS"] = 1
    response = search(scim, heavy, count=1)
    body = assert_scim_error(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert "1 ms budget" in body["detail"]
    assert [row.status_code for row in sync_logs(app)] == [503]
    app.config["SCIM_QUERY_TIMEOUT_MS"] = query.DEFAULT_QUERY_TIMEOUT_MS
    response = search(scim, heavy, count=1)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert scim_body(response)["totalResults"] == 0
    assert scim.get('/Users?filter=userName eq "u7@acme.com"').get_json()["totalResults"] == 1
