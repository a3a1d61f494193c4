"""Hypothesis-generated SCIM requests: never a 5xx, every error a SCIM error document, a refusal changes nothing.

Bodies, filters, PATCH operations and raw requests are generated around what
identity providers send (valid users with a few attributes broken, wrong types,
huge strings, any Unicode, deep nesting, odd casing) and sent to the app through
the Flask test client. After each refused request the directory's tables
(members, departments, job titles, groups and their link tables) must be exactly
as before; sync log failure rows are expected and not compared.

``FUZZ_EXAMPLES`` sets the examples per test (default 150; ``make fuzz`` runs 2,500
per test). Runs are derandomized so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import os
import string
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.proof.support import snapshot
from tests.scim.conftest import ENTERPRISE, ERROR_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, SCIM_JSON, Scim, user

pytestmark = pytest.mark.both_databases

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples on every CI run: a failure is reproducible, never flaky
    deadline=None,  # a shared 2-core machine has slow moments; speed is the benchmarks' business
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# ---------------------------------------------------------------- values

#: any Unicode, lone surrogates and NUL included
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
huge_text = st.builds(lambda chunk, times: chunk * times, st.text(min_size=1, max_size=3), st.integers(100, 3000))
email_like = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=12),
    st.sampled_from(["acme.test", "ACME.test", "example.com", "b\u00fccher.test"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    any_text,
    huge_text,
    email_like,
    st.sampled_from(["True", "false", "", " ", "work"]),
)


def nested(depth: int) -> Any:
    """A value wrapped ``depth`` times in lists and objects."""
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"value": value}
    return value


json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(any_text, st.sampled_from(["value", "type", "primary"])), inner, max_size=4),
    ),
    max_leaves=12,
)
values = st.one_of(scalars, json_values, st.integers(20, 80).map(nested))


def recase(name: str) -> st.SearchStrategy[str]:
    """The attribute name as written, lower-cased or upper-cased (RFC 7643 §2.1: names are case-insensitive)."""
    return st.sampled_from([name, name.lower(), name.upper()])


USER_ATTRIBUTES = [
    "userName",
    "displayName",
    "externalId",
    "nickName",
    "title",
    "userType",
    "active",
    "name",
    "emails",
    "phoneNumbers",
    "addresses",
    "schemas",
    "id",
    "meta",
    "groups",
    "password",
    ENTERPRISE,
]
ENTERPRISE_ATTRIBUTES = ["employeeNumber", "department", "manager"]


@st.composite
def user_bodies(draw: st.DrawFn) -> Any:
    """A valid User with a few attributes replaced, removed or added; sometimes any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    email = draw(email_like)
    body = user(
        email,
        title=draw(st.sampled_from(["Engineer", "<script>alert(1)</script>", "Ingénieur"])),
        **{
            "schemas": [ENTERPRISE],
            ENTERPRISE: {
                "department": draw(st.sampled_from(["R&D", "Sales", "Ops"])),
                "employeeNumber": draw(st.sampled_from([None, "E1", "E2", "7"])),
            },
        },
    )
    for _ in range(draw(st.integers(0, 4))):
        attribute = draw(st.sampled_from(USER_ATTRIBUTES + ["enterprise.sub", "random"]))
        if attribute == "enterprise.sub":
            body[ENTERPRISE] = {draw(recase(draw(st.sampled_from(ENTERPRISE_ATTRIBUTES)))): draw(values)}
        elif attribute == "random":
            body[draw(any_text)] = draw(values)
        elif draw(st.booleans()):
            body.pop(attribute, None)
        else:
            body[draw(recase(attribute))] = draw(values)
    return body


@st.composite
def group_bodies(draw: st.DrawFn, member_ids: list[str]) -> Any:
    """A Group with known, unknown or malformed members and a name of any shape."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    member = st.one_of(st.sampled_from(member_ids + [UNKNOWN_ID]).map(lambda v: {"value": v}), values)
    body: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        draw(recase("displayName")): draw(st.one_of(st.text(string.ascii_letters, min_size=1, max_size=12), values)),
        "members": draw(st.one_of(st.lists(member, max_size=4), values)),
    }
    if draw(st.booleans()):
        body[draw(st.sampled_from(["externalId", "id", "meta", "random"]))] = draw(values)
    return body


ATTRIBUTE_PATHS = [
    "userName",
    "displayName",
    "emails",
    "emails.value",
    'emails[type eq "work"].value',
    'emails[type eq "work"]',
    "name.givenName",
    "name",
    "title",
    "active",
    "externalId",
    "id",
    "meta.lastModified",
    "meta.created",
    "nickName",
    "userType",
    'phoneNumbers[type eq "work"].value',
    'addresses[type eq "work"].country',
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:manager.value",
    ENTERPRISE,
    "members",
    'members[value eq "x"]',
    "members.value",
    "groups",
    "password",
    "urn:x:y:z",
    "a.b.c.d",
]
COMPARE = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Sw", "xx"]
literals = st.one_of(
    st.builds(json.dumps, st.one_of(any_text, email_like, huge_text)),
    st.sampled_from(["true", "false", "null", "1", "-2.5e3", '"2026-01-01T00:00:00Z"', '"', "'x'", "\\"]),
)


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> str:
    """A filter expression (RFC 7644 §3.4.2.2): mostly well-formed, sometimes broken or just any text."""
    kind = draw(st.integers(0, 9 if depth < 3 else 5))
    if kind == 0:
        return draw(st.one_of(any_text, huge_text))
    if kind <= 4:
        path = draw(st.one_of(st.sampled_from(ATTRIBUTE_PATHS), any_text))
        if draw(st.integers(0, 5)) == 0:
            return f"{path} pr"
        return f"{path} {draw(st.sampled_from(COMPARE))} {draw(literals)}"
    if kind == 5:
        return f"not ({draw(filters(depth + 1))})"
    if kind == 6:
        return f"({draw(filters(depth + 1))})"
    if kind == 7:
        return f"emails[{draw(filters(depth + 1))}]"
    joiner = draw(st.sampled_from([" and ", " or ", " AND ", " Or ", " "]))
    return draw(filters(depth + 1)) + joiner + draw(filters(depth + 1))


query_values = st.one_of(
    any_text,
    st.integers(-10, 10**12).map(str),
    st.sampled_from(
        [
            "userName",
            "emails.value,displayName",
            "members",
            f"{ENTERPRISE}:department",
            "ascending",
            "descending",
            "",
            "0",
            "-1",
            "abc",
            "99999999999999999999",
        ]
    ),
)
query_params = st.dictionaries(
    st.sampled_from(
        ["filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder", "cursor", "x"]
    ),
    query_values,
    max_size=4,
)


plain_values = st.one_of(
    st.text(string.ascii_letters + " <>\"'&", min_size=1, max_size=20),
    st.booleans(),
    st.sampled_from(["<script>alert(1)</script>", '" onmouseover="alert(1)', "False", "R&D"]),
)


@st.composite
def plausible_operations(draw: st.DrawFn, member_ids: list[str]) -> dict[str, Any]:
    """An operation an identity provider could send: known op, known path, a value of about the right shape."""
    op = draw(st.sampled_from(["add", "replace", "remove", "Replace", "Add"]))
    path = draw(
        st.sampled_from(
            [
                "displayName",
                "title",
                "nickName",
                "active",
                "name.givenName",
                "externalId",
                f"{ENTERPRISE}:department",
                f"{ENTERPRISE}:employeeNumber",
                f"{ENTERPRISE}:manager",
                'phoneNumbers[type eq "work"].value',
                'addresses[type eq "work"].country',
                "members",
                None,
            ]
        )
    )
    operation: dict[str, Any] = {"op": op}
    if path == "members":
        operation["path"] = path
        operation["value"] = [
            {"value": v} for v in draw(st.lists(st.sampled_from(member_ids + [UNKNOWN_ID]), max_size=3))
        ]
    elif path is None:
        operation["value"] = {
            draw(st.sampled_from(["displayName", "title", "active", "externalId"])): draw(plain_values)
        }
    else:
        operation["path"] = path
        if op != "remove":
            operation["value"] = draw(plain_values)
    return operation


@st.composite
def patch_bodies(draw: st.DrawFn, member_ids: list[str]) -> Any:
    """A PatchOp: plausible operations, operations with any op, path and value, or a malformed envelope."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    ops = []
    all_plausible = draw(st.integers(0, 9)) < 5
    for _ in range(draw(st.integers(1, 4))):
        if all_plausible or draw(st.booleans()):
            ops.append(draw(plausible_operations(member_ids)))
            continue
        op: dict[str, Any] = {}
        if draw(st.integers(0, 9)):
            op[draw(recase("op"))] = draw(
                st.one_of(st.sampled_from(["add", "remove", "replace", "Add", "REPLACE", "Remove", "move"]), values)
            )
        if draw(st.booleans()):
            op["path"] = draw(
                st.one_of(
                    st.sampled_from(ATTRIBUTE_PATHS),
                    filters().map(lambda f: f"emails[{f}]"),
                    st.sampled_from(member_ids).map(lambda v: f'members[value eq "{v}"]'),
                    any_text,
                    values,
                )
            )
        if draw(st.integers(0, 4)):
            op["value"] = draw(
                st.one_of(values, user_bodies(), st.sampled_from(member_ids).map(lambda v: [{"value": v}]))
            )
        ops.append(op)
    return {
        "schemas": draw(st.sampled_from([[PATCH_SCHEMA], [PATCH_SCHEMA], [], "x"])),
        draw(st.sampled_from(["Operations", "Operations", "operations", "OPERATIONS"])): ops,
    }


# ---------------------------------------------------------------- the checks


@pytest.fixture
def seeded(app: Any, scim: Scim) -> dict[str, Any]:
    """Two users in a department with a title, and a group of them: targets for PUT and PATCH."""
    ann = scim.create_user(
        "ann@acme.test", title="Engineer", **{"schemas": [ENTERPRISE], ENTERPRISE: {"department": "R&D"}}
    )
    bob = scim.create_user("bob@acme.test")
    group = scim.post(
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Crew", "members": [{"value": ann["id"]}, {"value": bob["id"]}]},
    )
    assert group.status_code == 201
    return {"members": [ann["id"], bob["id"]], "group": group.get_json()["id"]}


def _not_implemented(path: str) -> bool:
    """/Bulk and /Me answer 501 by design (RFC 7644 §3.7, §3.11): the one 5xx a request may get."""
    return "/".join(part for part in unquote(path.split("?", 1)[0]).split("/") if part) in ("Bulk", "Me")


def check(
    app: Any,
    scim: Scim,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | str | None = None,
    content_type: str = SCIM_JSON,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send one request and hold it to the rules: no 5xx, SCIM errors, a refusal changes nothing."""
    before = snapshot(app)
    if raw is None and body is not None:
        raw = json.dumps(body)
    response = scim.request(method, path, raw=raw, content_type=content_type, headers=headers)
    status = response.status_code
    seen = (method, path, raw, response.get_data(as_text=True))
    assert status < 500 or (status == 501 and _not_implemented(path)), seen
    if method == "HEAD":  # no body to read
        assert status >= 400 or snapshot(app) == before
    elif status >= 400:
        assert response.mimetype == SCIM_JSON, (status, response.get_data(as_text=True)[:300])
        document = json.loads(response.get_data(as_text=True))
        assert document["schemas"] == [ERROR_SCHEMA] and document["status"] == str(status), document
        assert isinstance(document.get("detail", ""), str)
        assert snapshot(app) == before, f"refused with {status} but changed the directory: {method} {path} {raw!r}"
    elif status != 204 and method != "OPTIONS":  # Flask answers OPTIONS itself, with Allow and no body
        assert response.mimetype == SCIM_JSON
        json.loads(response.get_data(as_text=True))
    return response


@FUZZ
@given(data=st.data())
def test_fuzzed_user_and_group_bodies_never_5xx_nor_half_write_rfc7644_3_3_3_5_1(
    app: Any, scim: Scim, seeded: dict[str, Any], data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(["POST /Users", "PUT /Users", "POST /Groups", "PUT /Groups"]))
    method, resource = target.split()
    if resource == "/Users":
        body = data.draw(user_bodies())
        ids = seeded["members"] + [UNKNOWN_ID]
    else:
        body = data.draw(group_bodies(seeded["members"]))
        ids = [seeded["group"], UNKNOWN_ID]
    path = resource if method == "POST" else f"{resource}/{data.draw(st.sampled_from(ids))}"
    check(app, scim, method, path, body)


@FUZZ
@given(data=st.data())
def test_fuzzed_filters_and_query_parameters_never_5xx_rfc7644_3_4_2(
    app: Any, scim: Scim, seeded: dict[str, Any], data: st.DataObject
) -> None:
    resource = data.draw(st.sampled_from(["/Users", "/Groups"]))
    params = data.draw(query_params)
    if data.draw(st.integers(0, 3)):
        params["filter"] = data.draw(filters())
    if data.draw(st.integers(0, 2)) == 0:  # the same as a SearchRequest body (RFC 7644 §3.4.3)
        body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
        for key, value in params.items():
            body[key] = data.draw(st.one_of(st.just(value), values))
        check(app, scim, "POST", f"{resource}/.search", body)
        return
    query = urlencode(params, encoding="utf-8", errors="surrogatepass")
    check(app, scim, "GET", f"{resource}?{query}")


@FUZZ
@given(data=st.data())
def test_fuzzed_patch_operations_never_5xx_nor_half_write_rfc7644_3_5_2(
    app: Any, scim: Scim, seeded: dict[str, Any], data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        path = f"/Users/{data.draw(st.sampled_from(seeded['members']))}"
    else:
        path = f"/Groups/{seeded['group']}"
    body = data.draw(patch_bodies(seeded["members"]))
    check(app, scim, "PATCH", path, body)


@FUZZ
@given(data=st.data())
def test_fuzzed_raw_requests_answer_scim_errors_rfc7644_3_12(
    app: Any, scim: Scim, seeded: dict[str, Any], data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    resource = data.draw(
        st.sampled_from(
            [
                "/Users",
                "/Groups",
                "/Users/",
                "//Users",
                "/Nope",
                "",
                "/Users/.search",
                "/Schemas",
                "/ResourceTypes",
                "/ServiceProviderConfig",
                "/Bulk",
                "/Me",
            ]
        )
    )
    if method == "DELETE" or data.draw(st.booleans()):
        resource = f"{resource}/{data.draw(st.one_of(st.just(UNKNOWN_ID), st.text(string.printable, max_size=20)))}"
    raw = data.draw(
        st.one_of(
            st.none(),
            st.binary(max_size=200),
            any_text.map(lambda t: t.encode("utf-8", "replace")),
            json_values.map(json.dumps),
        )
    )
    content_type = data.draw(
        st.sampled_from(
            [
                SCIM_JSON,
                "application/json",
                "text/plain",
                "application/xml",
                "application/scim+json; charset=latin-1",
                "multipart/form-data",
            ]
        )
    )
    headers = data.draw(
        st.dictionaries(
            st.sampled_from(["If-Match", "If-None-Match", "Accept"]),
            st.sampled_from(['W/"1"', "*", '"x"', "garbage", "text/html"]),
            max_size=2,
        )
    )
    path = resource.replace("?", "%3F").replace("#", "%23")
    if data.draw(st.booleans()):
        path += "?" + urlencode(data.draw(query_params), encoding="utf-8", errors="surrogatepass")
    check(app, scim, method, path, raw=raw, content_type=content_type, headers=headers)


# ---------------------------------------------------------------- what the fuzzer found


def test_refused_put_leaves_no_job_title_nor_department_behind_rfc7644_3_5_1(app: Any, scim: Scim) -> None:
    """A PUT refused on the final state (409 here) rolls back the title and department it created on the way.

    On SQLite the savepoint around "find or create" was the first statement of the
    transaction, so pysqlite had not begun one and RELEASE committed the new row.
    """
    scim.create_user("ann@acme.test", **{"schemas": [ENTERPRISE], ENTERPRISE: {"employeeNumber": "7"}})
    bob = scim.create_user("bob@acme.test")
    before = snapshot(app)
    refused = scim.put(
        f"/Users/{bob['id']}",
        user(
            "bob@acme.test",
            title="Brand new title",
            **{"schemas": [ENTERPRISE], ENTERPRISE: {"department": "Brand new department", "employeeNumber": "7"}},
        ),
    )
    assert refused.status_code == 409, refused.get_json()
    assert snapshot(app) == before
