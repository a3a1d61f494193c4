"""Security of the SCIM receiver and the console: tenants apart, no token in clear, names rendered escaped.

CSRF and permissions on every console URL are walked in tests/console/test_url_map.py;
security headers and the login limit are in tests/console/test_auth.py; the SCIM
per-token limit (429, Retry-After, SCIM error) is in tests/scim/test_auth.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from portal.core import departments, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin, AdminLog, Member, SyncLog, SyncSource, UserGroup
from tests.console.test_url_map import _console_rules, _url
from tests.factories import make_org
from tests.proof.support import HttpScim, dump_database, snapshot
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, PATCH_SCHEMA, Scim, SourceData, add_source, user
from tests.servers import Server, gunicorn

pytestmark = pytest.mark.both_databases

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '" onmouseover="alert(1)'


# ---------------------------------------------------------------- tenant isolation


@pytest.fixture
def tenants(app: Any, runner: Any) -> dict[str, Any]:
    """Organizations A and B, each with an active source, a member and a group made over SCIM."""
    out: dict[str, Any] = {}
    for name in ("Org A", "Org B"):
        org = make_org(app, name=name, email=f"owner@{name[-1].lower()}.test")
        source = add_source(runner, name, "--activate")
        scim = Scim(app.test_client(), source)
        member = scim.create_user("same.name@acme.test", title=f"Title of {name}")
        group = scim.post(
            "/Groups",
            {"schemas": [GROUP_SCHEMA], "displayName": f"Group of {name}", "members": [{"value": member["id"]}]},
        )
        assert group.status_code == 201
        out[name[-1]] = {"org": org, "source": source, "scim": scim, "member": member, "group": group.get_json()}
    return out


def test_token_of_org_a_at_org_b_url_is_refused_401_rfc7644_2(tenants: dict[str, Any]) -> None:
    a, b = tenants["A"], tenants["B"]
    for method, path in [
        ("GET", "/Users"),
        ("GET", f"/Users/{b['member']['id']}"),
        ("POST", "/Users"),
        ("GET", "/Groups"),
        ("DELETE", f"/Groups/{b['group']['id']}"),
    ]:
        body = user("intruder@acme.test") if method == "POST" else None
        response = b["scim"].request(method, path, body, token=a["source"].token)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert "WWW-Authenticate" in response.headers


def test_ids_of_org_b_are_never_found_through_org_a_rfc7644_3_4_1(app: Any, tenants: dict[str, Any]) -> None:
    a, b = tenants["A"], tenants["B"]
    scim, member_id, group_id = a["scim"], b["member"]["id"], b["group"]["id"]
    before = snapshot(app)

    assert scim.get(f"/Users/{member_id}").status_code == 404
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert scim.put(f"/Users/{member_id}", user("same.name@acme.test")).status_code == 404
    assert scim.ops(f"/Users/{member_id}", {"op": "replace", "path": "active", "value": False}).status_code == 404
    assert scim.delete(f"/Users/{member_id}").status_code == 404
    assert scim.put(f"/Groups/{group_id}", {"schemas": [GROUP_SCHEMA], "displayName": "Taken"}).status_code == 404
    assert (
        scim.ops(
            f"/Groups/{group_id}", {"op": "add", "path": "members", "value": [{"value": a["member"]["id"]}]}
        ).status_code
        == 404
    )
    assert scim.delete(f"/Groups/{group_id}").status_code == 404
    # B's member cannot be put into A's group either: its id is unknown in A.
    assert (
        scim.ops(
            f"/Groups/{a['group']['id']}", {"op": "add", "path": "members", "value": [{"value": member_id}]}
        ).status_code
        == 400
    )
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "resource, filter_text",
    [
        ("/Users", 'id eq "{member}"'),
        ("/Users", 'userName eq "same.name@acme.test" and title eq "Title of Org B"'),
        ("/Users", 'title eq "Title of Org B"'),
        ("/Users", 'groups.value eq "{group}"'),
        ("/Users", 'id eq "{member}" or id pr'),
        ("/Groups", 'id eq "{group}"'),
        ("/Groups", 'displayName eq "Group of Org B"'),
        ("/Groups", 'members.value eq "{member}"'),
    ],
)
def test_filters_of_org_a_never_match_org_b_rfc7644_3_4_2_2(
    tenants: dict[str, Any], resource: str, filter_text: str
) -> None:
    a, b = tenants["A"], tenants["B"]
    wanted = filter_text.format(member=b["member"]["id"], group=b["group"]["id"])
    response = a["scim"].get(resource, query_string={"filter": wanted})
    assert response.status_code == 200, response.get_json()
    listed = response.get_json()
    own = {a["member"]["id"], a["group"]["id"]}
    assert {item["id"] for item in listed["Resources"]} <= own, listed
    assert b["member"]["id"] not in response.get_data(as_text=True)
    assert b["group"]["id"] not in response.get_data(as_text=True)
    # The search endpoint (POST .search) keeps to the tenant too.
    searched = a["scim"].post(
        f"{resource}/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": wanted}
    )
    assert searched.status_code == 200
    assert {item["id"] for item in searched.get_json()["Resources"]} <= own


def test_the_same_username_in_two_organizations_is_two_members_rfc7644_3_3(app: Any, tenants: dict[str, Any]) -> None:
    """Uniqueness is per organization: B's member neither blocks nor links A's (seen from the database)."""
    with app.app_context():
        rows = db.session.execute(
            select(Member.org_id, Member.public_id).where(Member.external_id_norm == "same.name@acme.test")
        ).all()
    assert {public_id for _, public_id in rows} == {tenants["A"]["member"]["id"], tenants["B"]["member"]["id"]}
    assert len({org_id for org_id, _ in rows}) == 2


# ---------------------------------------------------------------- no token in clear


@pytest.fixture(scope="module")
def debug_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn at DEBUG log level: the most it will ever write about a request."""
    with gunicorn(
        database_url, tmp_path_factory.mktemp("gunicorn-debug"), workers=2, env={"LOG_LEVEL": "debug"}
    ) as running:
        yield running


def test_no_token_appears_in_the_database_or_any_log(
    app: Any, runner: Any, org: Any, debug_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = add_source(runner, org.name, "--activate")
    refreshed = json.loads(
        runner.invoke(
            args=["sync-source", "refresh-token", first.id, "--json", "--base-url", "http://localhost"]
        ).output
    )["token"]
    other = add_source(runner, org.name, "--provider", "okta")  # saved, not activated
    wrong = "wrong-" + refreshed[6:]
    tokens = {"first (refreshed away)": first.token, "current": refreshed, "other source": other.token, "wrong": wrong}
    assert len(set(tokens.values())) == 4 and all(len(t) >= 20 for t in tokens.values())

    # Through gunicorn: a sync, and failed attempts with old, wrong and misplaced tokens.
    http = HttpScim(f"{debug_server.url}/scim/v2/{first.id}", refreshed)
    created = http.request("POST", "/Users", user("ann@acme.test", title="Engineer"))
    assert created.status == 201
    assert (
        http.request(
            "PATCH",
            f"/Users/{created.json['id']}",
            {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]},
        ).status
        == 200
    )
    assert http.request("GET", "/Users?filter=userName%20eq%20%22ann@acme.test%22").status == 200
    for token in (first.token, wrong, other.token):
        assert http.request("GET", "/Users", token=token).status == 401
    assert http.request("GET", "/Users", headers={"Authorization": f"Token {refreshed}"}).status == 401
    assert http.request("GET", "/Users", headers={"Authorization": refreshed}).status == 401
    # Through the app in this process, whose log records caplog holds.
    scim = Scim(app.test_client(), SourceData(first.id, first.url, refreshed))
    assert scim.get(f"/Users/{created.json['id']}").status_code == 200
    assert scim.get("/Users", token=wrong).status_code == 401
    assert scim.post("/Users", user("bob@acme.test", password=wrong)).status_code == 201

    places = {
        "database": dump_database(app),
        "gunicorn logs": debug_server.logs(),
        "app logs": "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records) + caplog.text,
    }
    assert places["database"] and "ann@acme.test" in places["database"]
    assert "/Users" in places["gunicorn logs"]
    for place, text in places.items():
        for name, token in tokens.items():
            assert token not in text, f"the {name} token appears in the {place}"


# ---------------------------------------------------------------- security headers on every console page


def test_every_console_page_carries_the_security_headers_owasp_secure_headers(app: Any, console: Any) -> None:
    """Walk the URL map (as the CSRF walk does), so no view can answer without them or weaken them."""
    rules = [rule for rule in _console_rules(app, "GET")] + [
        rule for rule in app.url_map.iter_rules() if rule.endpoint in {"auth.login", "home.index"}
    ]
    assert len(rules) > 10
    for rule in rules:
        response = console.get(_url(rule))
        response.close()  # a streamed export keeps its request context until closed
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, rule.rule
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, rule.rule
        assert response.headers.get("X-Content-Type-Options") == "nosniff", rule.rule
        assert response.headers.get("Referrer-Policy"), rule.rule


# ---------------------------------------------------------------- escaped names in the console (Chromium)


def _sign_in(page: Any, base_url: str, org: Any) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


@pytest.fixture
def hostile(app: Any, runner: Any, org: Any) -> dict[str, Any]:
    """Members, departments, titles and a group named to break out of HTML, made over SCIM; and console traces."""
    source = add_source(runner, org.name, "--activate", "--deletion-rule", "suspend")
    scim = Scim(app.test_client(), source)
    made = [
        scim.create_user(
            "script@acme.test",
            displayName=SCRIPT,
            title=ATTRIBUTE,
            **{"schemas": [ENTERPRISE], ENTERPRISE: {"department": SCRIPT}},
        ),
        scim.create_user(
            "attribute@acme.test",
            displayName=ATTRIBUTE,
            title=SCRIPT,
            **{"schemas": [ENTERPRISE], ENTERPRISE: {"department": ATTRIBUTE}},
        ),
    ]
    group = scim.post(
        "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": SCRIPT, "members": [{"value": m["id"]} for m in made]}
    )
    assert group.status_code == 201
    assert (
        scim.ops(f"/Users/{made[0]['id']}", {"op": "replace", "path": "nickName", "value": ATTRIBUTE}).status_code
        == 200
    )
    assert scim.post("/Users", user(SCRIPT)).status_code == 400  # a failure row naming it
    # The console's admin log: a member the source let go is reactivated, a hand-made department renamed.
    # (A synced department keeps the name its source gave it: issue 13.)
    assert scim.delete(f"/Users/{made[1]['id']}").status_code == 204
    with app.app_context():
        admin = Actor.for_admin(db.session.get(Admin, org.admin_id), "127.0.0.1")
        member_ids = {m.public_id: m.id for m in db.session.scalars(select(Member).where(Member.org_id == org.id))}
        members.set_member_active(org.id, member_ids[made[1]["id"]], True, admin)
        department = departments.create_department(org.id, SCRIPT + " (by hand)", admin)
        departments.update_department(org.id, department.id, admin, name=f"{SCRIPT} {ATTRIBUTE}")
        db.session.commit()
        source_pk = db.session.scalar(select(SyncSource.id).where(SyncSource.public_id == source.id))
        return {
            "members": [member_ids[m["id"]] for m in made],
            "group": db.session.scalar(select(UserGroup.id).where(UserGroup.org_id == org.id)),
            "source": source_pk,
            "sync_logs": list(db.session.scalars(select(SyncLog.id).where(SyncLog.source_id == source_pk))),
            "admin_logs": list(
                db.session.scalars(
                    select(AdminLog.id).where(
                        AdminLog.org_id == org.id, AdminLog.target_type.in_(["member", "department"])
                    )
                )
            ),
        }


@pytest.mark.browser
def test_hostile_names_render_escaped_on_every_console_page_owasp_xss(
    page: Any, live_server: Any, org: Any, hostile: dict[str, Any]
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = live_server.url
    _sign_in(page, base, org)
    sync_log = f"/settings/directory-sync/{hostile['source']}/sync-log"
    lists = [
        "/organization/members",
        "/organization/members/departments",
        "/organization/groups",
        f"/organization/groups/{hostile['group']}",
        sync_log,
        "/compliance/audit-log/admin",
    ]
    details = (
        [f"/organization/members/{m}" for m in hostile["members"]]
        + [f"{sync_log}/{entry}" for entry in hostile["sync_logs"]]
        + [f"/compliance/audit-log/admin/{entry}" for entry in hostile["admin_logs"]]
    )
    seen: dict[str, set[str]] = {}
    for path in lists + details:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        shown = page.locator("body").inner_text()
        seen[path] = {text for text in (SCRIPT, ATTRIBUTE) if text in shown}
        # No element came out of a name: no inline script, no event handler attribute.
        assert page.locator("script:not([src])").count() == 0, path
        assert page.locator("[onmouseover]").count() == 0, path
        for text in seen[path]:
            for element in page.get_by_text(text).all()[:6]:
                box = element.bounding_box()
                if box and box["width"] > 2 and box["height"] > 2:  # not the screen-reader-only copies
                    element.hover()
        assert dialogs == [], f"{path} opened a dialog: {dialogs}"
    # Every list shows the names as text, and so does every member's drawer; the details show them somewhere.
    for path in lists + details[:2]:
        assert seen[path], f"{path} shows none of the hostile names as text"
    assert set().union(*(seen[path] for path in details[2:])) == {SCRIPT, ATTRIBUTE}
