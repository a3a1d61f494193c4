"""Organization pages in a real Chromium after a SCIM create through the receiver.

Seed 1.3 and "View data source information".
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import members
from portal.core.actors import Actor
from portal.extensions import db
from tests.directory_support import make_source_with_token

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

pytestmark = pytest.mark.browser


def sign_in(page: Page, live_server: Any, org: Any) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()


def scim_create_user(base_url: str, public_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a user to the SCIM receiver over HTTP, as an identity provider does."""
    request = urllib.request.Request(
        f"{base_url}/scim/v2/{public_id}/Users",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


@pytest.fixture
def synced(app: Any, org: Any, live_server: Any) -> int:
    """A JumpCloud source whose SCIM create made Ada Lovelace in the new department Engineering.

    And a hand-made member.
    """
    source_id, public_id, token = make_source_with_token(app, org.id, name="JumpCloud")
    scim_create_user(
        live_server.url,
        public_id,
        token,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "ada@acme.test",
            "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@acme.test", "type": "work", "primary": True}],
            "title": "Engineer",
            "active": True,
            ENTERPRISE: {"department": "Engineering", "employeeNumber": "E-1"},
        },
    )
    with app.app_context():
        members.create_member(
            org.id, {"external_id": "bob@acme.test", "email": "bob@acme.test", "name": "Bob Builder"}, Actor.cli()
        )
        db.session.commit()
    return source_id


def test_admin_sees_synced_member_banner_department_and_field_source_seed_1_3(page, live_server, org, synced):
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")

    banner = page.get_by_role("status").filter(has_text="JumpCloud sync:")
    expect(banner).to_contain_text("JumpCloud sync: 1 member created, 1 department created")
    expect(banner.get_by_role("link", name="View sync log")).to_have_attribute(
        "href", f"/settings/directory-sync/{synced}/sync-log"
    )

    row = page.get_by_role("row").filter(has_text="Ada Lovelace")
    expect(row).to_contain_text("SCIM data source (JumpCloud)")
    row.get_by_role("link", name="Details").click()
    drawer = page.locator("#drawer")
    expect(drawer.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(drawer).to_contain_text("SCIM data source")
    expect(drawer).to_contain_text("Created by SCIM synchronization.")
    expect(drawer).to_contain_text("Engineering")
    expect(drawer.get_by_role("table")).to_contain_text("Create")
    drawer.get_by_role("button", name="Close details").click()
    expect(drawer).to_be_hidden()

    page.get_by_role("link", name="Departments").click()
    tree = page.get_by_role("list", name="Departments")
    expect(tree).to_contain_text("Engineering")
    tree.locator(".tree-node", has_text="Engineering").get_by_role("link", name="Details").click()
    expect(drawer).to_contain_text("SCIM data source")
    expect(drawer).to_contain_text("JumpCloud")
    drawer.get_by_role("button", name="Close details").click()

    page.get_by_role("link", name="Field Management").click()
    page.get_by_role("row").filter(has=page.get_by_text("First name", exact=True)).get_by_role(
        "link", name="Details"
    ).click()
    expect(drawer).to_contain_text("JumpCloud (SCIM): name.givenName")


def test_search_as_you_type_narrows_the_members_list(page, live_server, org, synced):
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    rows = page.locator("#member-results tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("searchbox", name="Search").press_sequentially("bob", delay=50)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Bob Builder")
    expect(page).to_have_url(re.compile(r"q=bob"))
    expect(page.locator("#member-results")).to_contain_text("1 member")

    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("bob")


def test_dismissed_banner_stays_dismissed_for_this_admin(page, live_server, org, synced):
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/fields")
    banner = page.get_by_role("status").filter(has_text="JumpCloud sync:")
    expect(banner).to_be_visible()
    with page.expect_response(re.compile(r"/organization/banners/\d+/dismiss")) as response:
        banner.get_by_role("button", name="Dismiss").click()
    assert response.value.status == 204
    expect(banner).to_be_hidden()
    page.goto(f"{live_server.url}/organization/members")
    expect(page.get_by_text("JumpCloud sync:")).to_have_count(0)


def test_add_member_by_hand_shows_uniqueness_message_next_to_the_field(page, live_server, org, synced):
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    page.get_by_role("link", name="Add member").click()
    drawer = page.locator("#drawer")
    drawer.get_by_label("Name").first.fill("Another Ada")
    drawer.get_by_label("ExternalID (userName)").fill("ada2@acme.test")
    drawer.get_by_label("Email").fill("ADA@acme.test")
    drawer.get_by_role("button", name="Add member").click()
    expect(drawer.locator("#field-email-error")).to_have_text("This email is already used by another member")
    drawer.get_by_label("Email").fill("ada2@acme.test")
    drawer.get_by_role("button", name="Add member").click()
    expect(drawer).to_contain_text("Admin Console")
    expect(page.locator("#member-results")).to_contain_text("Another Ada")
