"""A key never sees another organization (issue 16), tested as tests/proof/test_security.py tests SCIM's tenants:
organization B's ids are never listed, found, nor matched by a filter through a key of organization A."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import WorkforceType
from tests.api.conftest import Api, Directory, assert_api_error, issue_key, make_directory
from tests.factories import make_org
from tests.scim.conftest import Scim, add_source

pytestmark = pytest.mark.both_databases


@pytest.fixture
def tenants(app: Any, runner: Any, client: Any) -> dict[str, Any]:
    """Acme and Globex, each with the same directory (same names), a synced member and a key."""
    out: dict[str, Any] = {}
    for name, email in (("Acme", "owner@acme.test"), ("Globex", "owner@globex.test")):
        org = make_org(app, name=name, email=email)
        directory = make_directory(app, org)
        source = add_source(runner, name, "--activate")
        synced = Scim(app.test_client(), source).create_user(f"synced@{name.lower()}.test")
        with app.app_context():
            types = set(db.session.scalars(sa.select(WorkforceType.id).where(WorkforceType.org_id == org.id)))
        out[name] = {
            "dir": directory,
            "source": source.id,
            "synced": synced["id"],
            "types": types,
            "api": Api(client, issue_key(app, org)),
        }
    return out


def _ids_of(side: dict[str, Any]) -> set[str]:
    d: Directory = side["dir"]
    return {*d.members.values(), *d.departments.values(), *d.groups.values(), side["synced"], side["source"]}


def _everything(api: Api, group_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every list the key can read, walked to the end."""
    return {
        "members": api.walk("/members"),
        "departments": api.walk("/departments"),
        "tree": api.get("/departments", query_string={"tree": 1}).get_json()["data"],
        "groups": api.walk("/groups"),
        "group members": api.walk(f"/groups/{group_id}/members"),
        "workforce types": api.get("/workforce-types").get_json()["data"],
        "events": api.walk_events(),
    }


def _all_ids(value: Any) -> set[str]:
    """Every string anywhere in a document (ids, names, nested objects)."""
    if isinstance(value, dict):
        return set().union(*(_all_ids(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_all_ids(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def test_no_list_of_a_key_of_acme_holds_anything_of_globex(tenants: dict[str, Any]) -> None:
    a, b = tenants["Acme"], tenants["Globex"]
    for side, other in ((a, b), (b, a)):
        seen = _everything(side["api"], next(iter(side["dir"].groups.values())))
        assert seen["members"] and seen["departments"] and seen["groups"] and seen["events"]
        for name, items in seen.items():
            assert not (_all_ids(items) & _ids_of(other)), name
            assert _all_ids(items) & _ids_of(side) or name == "workforce types", name
        assert {t["id"] for t in seen["workforce types"]} == side["types"]
        # Globex's events are numbered apart: each organization's sequence starts at 1.
        assert [e["seq"] for e in seen["events"]] == list(range(1, len(seen["events"]) + 1))


def test_ids_of_globex_are_never_found_through_a_key_of_acme(tenants: dict[str, Any]) -> None:
    api, b = tenants["Acme"]["api"], tenants["Globex"]
    d: Directory = b["dir"]
    paths = [f"/members/{i}" for i in (*d.members.values(), b["synced"])]
    paths += [f"/departments/{i}" for i in d.departments.values()]
    paths += [f"/groups/{i}" for i in d.groups.values()]
    paths += [f"/groups/{i}/members" for i in d.groups.values()]
    for path in paths:
        assert_api_error(api.get(path), 404, "not_found")


def test_filters_of_a_key_of_acme_never_match_globex(tenants: dict[str, Any]) -> None:
    api, b = tenants["Acme"]["api"], tenants["Globex"]
    d: Directory = b["dir"]
    for dept in d.departments.values():
        assert api.walk("/members", department=dept) == []
    assert api.walk("/members", source=b["source"]) == []
    # The same names exist in both organizations: a search finds Acme's only.
    found = api.walk("/members", q="Ann Lee")
    assert [m["id"] for m in found] == [tenants["Acme"]["dir"].members["Ann Lee"]]
    assert api.walk("/members", q="synced@globex") == []


def test_a_key_of_acme_read_at_globex_sees_acme(app: Any, client: Any, tenants: dict[str, Any]) -> None:
    # Nothing in a request names an organization: the key alone decides, so no header or parameter reaches Globex.
    api = tenants["Acme"]["api"]
    for query in ({"org": "Globex"}, {"org_id": "2"}):
        assert_api_error(api.get("/members", query_string=query), 400, "invalid_parameter")
    response = api.get("/members", headers={"X-Org": "Globex", "Host": "globex.example"})
    assert {m["id"] for m in response.get_json()["data"]} <= _ids_of(tenants["Acme"])
