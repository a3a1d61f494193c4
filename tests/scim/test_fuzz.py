"""Hypothesis: no request body gives a 5xx; every refusal is a SCIM error and changes nothing (RFC 7644 §3.12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from portal.extensions import db
from portal.models import Department, JobTitle, Member, UserGroup, group_members, member_departments
from tests.scim.conftest import ENTERPRISE, ERROR_SCHEMA, SCIM_JSON, Scim

pytestmark = pytest.mark.both_databases

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "ann@acme.test", "x" * 300, "a\x00b", "True", "false", "work", "urn:x:y", "null"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)

USER_KEYS = [
    "userName",
    "displayName",
    "emails",
    "name",
    "active",
    "title",
    "userType",
    "nickName",
    "phoneNumbers",
    "addresses",
    "externalId",
    "password",
    "groups",
    "id",
    "meta",
    ENTERPRISE,
    "schemas",
]
PATHS = [
    "displayName",
    "name.givenName",
    'emails[type eq "work"].value',
    'addresses[type eq "work"].country',
    'phoneNumbers[type eq "work"].value',
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
    "members",
    'members[value eq "x"]',
    "active",
    "userName",
    "id",
    "emails[",
    "a b",
    "urn:x",
    "emails[type eq]",
    'emails[type eq "work" and value co "@"]',
    "externalId",
    "title",
    ENTERPRISE,
]

sub_objects = st.dictionaries(
    st.sampled_from(["value", "type", "primary", "country", "givenName", "display"]), scalars, max_size=3
)
user_bodies = st.fixed_dictionaries(
    {}, optional={k: st.one_of(json_values, st.lists(sub_objects, max_size=2), sub_objects) for k in USER_KEYS}
)
operations = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["add", "Replace", "REMOVE", "move", ""]), text)},
    optional={
        "path": st.one_of(st.sampled_from(PATHS), text),
        "value": st.one_of(json_values, sub_objects, st.lists(sub_objects, max_size=2)),
    },
)
patch_bodies = st.one_of(
    st.fixed_dictionaries({"Operations": st.lists(operations, max_size=3)}),
    st.fixed_dictionaries({"operations": st.lists(operations, max_size=3)}),
    json_values,
)
group_bodies = st.fixed_dictionaries(
    {},
    optional={
        "displayName": json_values,
        "members": st.one_of(json_values, st.lists(sub_objects, max_size=2)),
        "externalId": json_values,
    },
)


def _snapshot() -> Any:
    tables = (
        Member.__table__,
        UserGroup.__table__,
        group_members,
        member_departments,
        Department.__table__,
        JobTitle.__table__,
    )
    return [sorted(tuple(str(v) for v in row) for row in db.session.execute(sa.select(t)).all()) for t in tables]


def _check(app: Any, response: Any, before: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    if response.status_code >= 400:
        body = json.loads(response.get_data(as_text=True))
        assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == str(response.status_code)
        with app.app_context():
            assert _snapshot() == before


def _before(app: Any) -> Any:
    with app.app_context():
        return _snapshot()


@pytest.fixture
def target(scim: Scim) -> dict[str, str]:
    user = scim.create_user("ann@acme.test", title="Engineer")
    group = scim.post("/Groups", {"displayName": "Team", "members": [{"value": user["id"]}]}).get_json()
    return {"user": user["id"], "group": group["id"]}


@FUZZ
@given(body=user_bodies)
def test_random_user_bodies_never_5xx_and_refusals_change_nothing_rfc7644_3_12(
    app: Any, scim: Scim, target: dict[str, str], body: dict[str, Any]
) -> None:
    for method, path in (("POST", "/Users"), ("PUT", f"/Users/{target['user']}")):
        before = _before(app)
        _check(app, scim.request(method, path, body), before)


@FUZZ
@given(body=patch_bodies)
def test_random_patch_operations_never_5xx_and_refusals_change_nothing_rfc7644_3_5_2(
    app: Any, scim: Scim, target: dict[str, str], body: Any
) -> None:
    for path in (f"/Users/{target['user']}", f"/Groups/{target['group']}"):
        before = _before(app)
        _check(app, scim.patch(path, body), before)


@FUZZ
@given(body=group_bodies)
def test_random_group_bodies_never_5xx_rfc7644_3_12(
    app: Any, scim: Scim, target: dict[str, str], body: dict[str, Any]
) -> None:
    for method, path in (("POST", "/Groups"), ("PUT", f"/Groups/{target['group']}")):
        before = _before(app)
        _check(app, scim.request(method, path, body), before)


@pytest.mark.parametrize("raw", ['{"userName": "\\ud800"}', '{"userName": "a\\u0000"}', b"\xff\xfe{}", "\u00e9t\u00e9"])
def test_undecodable_and_unstorable_text_is_400_invalid_syntax_rfc7644_3_12(app: Any, scim: Scim, raw: Any) -> None:
    response = scim.post("/Users", raw=raw)
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == "invalidSyntax"
