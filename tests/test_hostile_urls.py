"""Hostile URLs never get a 5xx: the console's URL map walked as a signed-in primary administrator, and the SCIM door.

Issue 12, "No 500, ever". Hypothesis builds the requests: every console route of the URL map with its
ids replaced by hostile values (past INTEGER, negative, zero, NUL, lone surrogates, CR/LF, thousands
of characters), hostile query strings (``q``, ``page``, ``start``, ``end``, ``department``, ``source``,
``next`` ...), hostile forms posted with the CSRF token; and the SCIM endpoints with hostile filters (the
filter grammar of RFC 7644 §3.4.2.2 used loosely: deep nesting, many terms, long operands, NUL,
surrogates, dates at the ends of the calendar) and hostile paths, with and without the token.

Text is sent as a client would: percent-encoded UTF-8, where a lone surrogate becomes bytes that are
not UTF-8 at all. ``FUZZ_EXAMPLES`` sets the examples per test (default 20, for ``make test``;
``make fuzz`` runs 2,500). Runs are derandomized, so a failure is the same on every run.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from portal.core import departments, groups, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import SyncSource
from tests.conftest import Console
from tests.directory_support import log_sync, make_source_with_token

pytestmark = pytest.mark.both_databases

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
HOSTILE = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# ---------------------------------------------------------------- hostile values

#: values that broke something once, or sit at an edge
EDGES = [
    "",
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999",
    "1e999",
    "²",
    "٣",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\ud7ff",
    "\r\nSet-Cookie: x=1",
    "/\r\nx",
    "//evil.test",
    "/\\evil.test",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "%",
    "_",
    "\\",
    "9999-12-31",
    "9999-12-31T23:59",
    "0001-01-01",
    "0001-01-01T00:00+01:00",
    "2026-02-30",
    "console",
]
#: any Unicode (NUL and lone surrogates included), an edge value, or a long run of one piece
hostile = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.sampled_from(EDGES),
    st.builds(
        lambda piece, times: piece * times, st.sampled_from(["a", "9", "\x00", "é", "%", "("]), st.integers(200, 3000)
    ),
    st.integers(-(2**70), 2**70).map(str),
)


def encode(text: str) -> str:
    """``text`` percent-encoded as UTF-8; a lone surrogate becomes the bytes no UTF-8 decoder accepts."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query_string(params: dict[str, str]) -> str:
    return "&".join(f"{encode(key)}={encode(value)}" for key, value in params.items())


def assert_no_5xx(response: Any, what: str, *, not_implemented: bool = False) -> None:
    """No 5xx, but a 501 where the service does not implement the feature (``not_implemented``)."""
    response.get_data()  # a streamed export runs while it is read
    response.close()
    allowed = response.status_code == 501 and not_implemented
    assert response.status_code < 500 or allowed, f"{response.status_code} for {what!r}"


# ---------------------------------------------------------------- the console


QUERY_KEYS = [
    "q",
    "page",
    "start",
    "end",
    "department",
    "source",
    "status",
    "next",
    "sort",
    "step",
    "operation",
    "result",
    "object_type",
    "category",
    "event_type",
    "admin",
]
FORM_KEYS = [
    "name",
    "display_name",
    "description",
    "email",
    "external_id",
    "first_name",
    "last_name",
    "another_name",
    "employee_id",
    "work_country",
    "mobile",
    "job_title",
    "employee_type_id",
    "department_id",
    "parent_id",
    "member",
    "field_type",
    "options",
    "provider",
    "step",
    "nav",
    "rule_value",
    "rule_type",
    "notified_admin_id",
    "deletion_rule",
    "match_attribute",
    "username_is_email",
    "permissions",
    "delivery",
    "password",
    "custom.x",
]
#: what a walk must not do: end its own session, hand the primary role away, or serve files
SKIPPED_ENDPOINTS = {
    "static",
    "auth.logout",
    "account.index",
    "account.sign_out_everywhere",
    "administrators.transfer",
}


def _console_rules(app: Any, method: str) -> list[Any]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if method in rule.methods
            and not rule.endpoint.startswith("scim.")
            and rule.endpoint not in SKIPPED_ENDPOINTS
        ),
        key=lambda rule: rule.rule,
    )


@st.composite
def console_paths(draw: st.DrawFn, rules: list[Any]) -> str:
    """A route of the URL map with each of its arguments an id that exists, or a hostile one."""
    rule = draw(st.sampled_from(rules))
    known = st.sampled_from(["1", "2", "3"])
    return re.sub(r"<[^>]+>", lambda _match: encode(draw(st.one_of(known, hostile))), rule.rule)


@pytest.fixture
def seeded_console(app: Any, org: Any, console: Console) -> Console:
    """A primary administrator signed in to an organization with one of everything, ids 1 to 3 in use."""
    source_id, _public_id, _token = make_source_with_token(app, org.id)
    with app.app_context():
        actor = Actor.cli()
        for n in (1, 2, 3):
            members.create_member(
                org.id, {"external_id": f"m{n}@acme.test", "email": f"m{n}@acme.test", "name": f"Member {n}"}, actor
            )
            groups.create_group(org.id, f"Group {n}", actor, description=f"Group number {n}")
            departments.create_department(org.id, f"Department {n}", actor)
            log_sync(db.session.get(SyncSource, source_id), "create", object_name=f"m{n}@acme.test")
        db.session.commit()
    return console


@HOSTILE
@given(data=st.data())
def test_fuzzed_console_gets_with_hostile_ids_and_query_strings_never_5xx(app, seeded_console, data):
    path = data.draw(console_paths(_console_rules(app, "GET")), label="path")
    params = data.draw(st.dictionaries(st.sampled_from(QUERY_KEYS), hostile, max_size=4), label="query")
    url = f"{path}?{query_string(params)}" if params else path
    htmx = data.draw(st.booleans(), label="htmx")
    assert_no_5xx(seeded_console.get(url, htmx=htmx), url)


@HOSTILE
@given(data=st.data())
def test_fuzzed_console_posts_with_hostile_ids_and_forms_never_5xx(app, seeded_console, data):
    path = data.draw(console_paths(_console_rules(app, "POST")), label="path")
    form = data.draw(st.dictionaries(st.sampled_from(FORM_KEYS), hostile, max_size=6), label="form")
    # As a browser posts it: percent-encoded UTF-8, with the session's CSRF token.
    body = query_string({**form, "csrf_token": seeded_console.token or ""})
    response = seeded_console.client.post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"HX-Request": "true"} if data.draw(st.booleans(), label="htmx") else {},
    )
    assert_no_5xx(response, f"POST {path} {form!r}")


# ---------------------------------------------------------------- the SCIM door

ATTRIBUTES = [
    "userName",
    "displayName",
    "externalId",
    "id",
    "active",
    "title",
    "emails",
    "emails.value",
    'emails[type eq "work"].value',
    "name.givenName",
    "meta.created",
    "meta.lastModified",
    "groups",
    "members",
    "members.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]
literals = st.one_of(
    st.builds(json.dumps, hostile),
    st.sampled_from(
        [
            '"0001-01-01T00:00:00+01:00"',
            '"9999-12-31T23:59:59-01:00"',
            '"\\ud800"',
            '"\\u0000"',
            "1e999",
            "-0",
            "true",
            "null",
            '"',
        ]
    ),
    st.integers(1_000, 60_000).map(lambda n: json.dumps("a" * n)),
)


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> str:
    """A filter (RFC 7644 §3.4.2.2), loosely: hostile operands and paths, deep nesting, long chains, or any text."""
    kind = draw(st.integers(0, 9 if depth < 3 else 4))
    if kind == 0:
        return draw(hostile)
    if kind <= 4:
        path = draw(st.one_of(st.sampled_from(ATTRIBUTES), hostile))
        operator = draw(st.sampled_from(OPERATORS))
        return f"{path} pr" if operator == "pr" else f"{path} {operator} {draw(literals)}"
    if kind == 5:
        depth_of = draw(st.integers(1, 600))
        return "not (" * depth_of + draw(filters(depth + 1)) + ")" * depth_of
    if kind == 6:
        depth_of = draw(st.integers(1, 600))
        return "(" * depth_of + draw(filters(depth + 1)) + ")" * depth_of
    if kind == 7:
        terms = draw(st.integers(2, 1200))
        return " or ".join(f'groups[display co "zz{n}"]' for n in range(terms))
    if kind == 8:
        return f"{draw(st.sampled_from(['emails', 'groups', 'members']))}[{draw(filters(depth + 1))}]"
    return f"{draw(filters(depth + 1))} {draw(st.sampled_from(['and', 'or', 'AND']))} {draw(filters(depth + 1))}"


@pytest.fixture
def scim_source(app: Any, org: Any) -> tuple[str, str]:
    """An active source with one user, and its SCIM id and token."""
    _source_id, public_id, token = make_source_with_token(app, org.id)
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ann@acme.test",
        "displayName": "Ann",
        "emails": [{"value": "ann@acme.test", "type": "work", "primary": True}],
    }
    response = app.test_client().post(
        f"/scim/v2/{public_id}/Users", json=user, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return public_id, token


@HOSTILE
@given(data=st.data())
def test_fuzzed_scim_filters_never_5xx_rfc7644_3_4_2_2(app, scim_source, data):
    public_id, token = scim_source
    expression = data.draw(filters(), label="filter")
    resource = data.draw(st.sampled_from(["Users", "Groups"]), label="resource")
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    if data.draw(st.booleans(), label="search"):
        # POST .search (RFC 7644 §3.4.3): the filter in a JSON body, as long as it likes
        response = client.post(
            f"/scim/v2/{public_id}/{resource}/.search",
            json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": expression, "count": 1},
            headers=auth,
        )
    else:
        response = client.get(f"/scim/v2/{public_id}/{resource}?filter={encode(expression)}&count=1", headers=auth)
    assert_no_5xx(response, expression[:300])


@HOSTILE
@given(data=st.data())
def test_fuzzed_scim_paths_never_5xx_rfc7644_3_2(app, scim_source, data):
    public_id, token = scim_source
    source = data.draw(st.one_of(st.just(public_id), hostile), label="source")
    rest = data.draw(
        st.one_of(
            st.sampled_from(
                ["Users", "Groups", "Users/.search", ".search", "ServiceProviderConfig", "Schemas", "Me", "Bulk"]
            ),
            st.builds(
                lambda kind, value: f"{kind}/{encode(value)}",
                st.sampled_from(["Users", "Groups", "ResourceTypes", "Schemas"]),
                hostile,
            ),
            hostile.map(encode),
        ),
        label="rest",
    )
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), label="method")
    headers = {"Authorization": f"Bearer {token}"} if data.draw(st.booleans(), label="token") else {}
    url = f"/scim/v2/{encode(source)}/{rest}"
    body = None if method in ("GET", "DELETE") else json.dumps({"schemas": [], "x": data.draw(hostile, label="body")})
    response = app.test_client().open(
        url, method=method, data=body, headers=headers, content_type="application/scim+json" if body else None
    )
    # /Me and /Bulk: 501, as RFC 7644 §3.11 and §3.7 say for a service without them (ServiceProviderConfig says so)
    assert_no_5xx(response, f"{method} {url}", not_implemented=rest in ("Me", "Bulk") and source == public_id)
