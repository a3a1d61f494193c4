"""The Admin log and a source's Sync log in a real Chromium, walked by the seed's labels (seed section 3).

Run with SCREENSHOTS_DIR=docs/screenshots to also save the pages for the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import sync_sources, workforce
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin
from tests.browser.support import htmx_settled
from tests.directory_support import scim_call
from tests.factories import make_admin

pytestmark = pytest.mark.browser

SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def shot(page: Page, name: str) -> None:
    if SCREENSHOTS_DIR:
        Path(SCREENSHOTS_DIR).mkdir(parents=True, exist_ok=True)
        # The drawer slides in: take the picture once it has arrived.
        page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
        page.screenshot(path=str(Path(SCREENSHOTS_DIR) / name))


def configure_sync(app: Any, org: Any) -> tuple[int, str, str]:
    """The seed's Organization Data Sync events, with the address each admin acted from.

    The owner adds JumpCloud, edits its sync configurations, activates it and refreshes its
    token; a helper adds Okta and deletes it. Returns JumpCloud's id, SCIM id and live token.
    """
    helper = make_admin(app, org, "maria.garcia@acme.test", {"org_data_sync"})
    with app.app_context():
        owner = Actor.for_admin(db.session.get(Admin, org.admin_id), "203.0.113.24")
        source, _ = sync_sources.create_source(org.id, "jumpcloud", owner)
        regular = next(wt for wt in workforce.workforce_types(org.id) if wt.name == "regular employee")
        sync_sources.configure_source(
            org.id,
            source.id,
            owner,
            workforce_rules=[{"value": "Regular", "workforce_type_id": regular.id}],
            deletion_rule="suspend",
            notified_admin_ids=[org.admin_id, helper],
            match_attributes=["email", "employee_id"],
        )
        sync_sources.set_active(org.id, source.id, True, owner)
        token = sync_sources.refresh_token(org.id, source.id, owner)
        maria = Actor.for_admin(db.session.get(Admin, helper), "198.51.100.61")
        okta, _ = sync_sources.create_source(org.id, "okta", maria)
        sync_sources.delete_source(org.id, okta.id, maria)
        db.session.commit()
        return source.id, source.public_id, token


def user(
    user_name: str, name: str, *, email: str | None = None, department: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """A SCIM User as JumpCloud sends it."""
    given, _, family = name.partition(" ")
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "displayName": name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email or user_name, "type": "work", "primary": True}],
        "active": True,
        "password": "JumpCloud-initial-secret",
    }
    if title:
        body["title"] = title
    if department:
        body[ENTERPRISE] = {"department": department}
    return body


def sync_history(base_url: str, public_id: str, token: str) -> None:
    """JumpCloud's pushes through the SCIM receiver: creates with associated objects, refusals, a deactivation."""

    def call(method: str, path: str, body: dict[str, Any], expected: int) -> Any:
        status, answer = scim_call(base_url, public_id, token, method, path, body)
        assert status == expected, answer
        return answer

    ada = call(
        "POST",
        "/Users",
        user("ada.lovelace@acme.test", "Ada Lovelace", department="Research", title="Principal Engineer"),
        201,
    )
    grace = call(
        "POST",
        "/Users",
        user("grace.hopper@acme.test", "Grace Hopper", department="Engineering", title="Rear Admiral"),
        201,
    )
    call("POST", "/Users", user("alan.turing@acme.test", "Alan Turing", email="alan@acme.test"), 400)
    call("POST", "/Users", user("grace.hopper@acme.test", "Grace B. Hopper"), 409)
    call(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
        200,
    )
    call(
        "POST",
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Research Guild",
            "members": [{"value": ada["id"]}],
        },
        201,
    )


def sign_in(page: Page, base: str, org: Any) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_log_filtered_by_event_type_and_administrator_with_details_seed_3(page, live_server, app, org):
    configure_sync(app, org)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server.url, org)
    # Compliance > Audit Log > Admin log
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Admin log").click()
    expect(page.get_by_role("heading", name="Admin log")).to_be_visible()
    table = page.locator("#log-panel tbody")
    for event in (
        "Add sync source",
        "Edit sync configurations",
        "Activate/Deactivate or Stop Sync Settings",
        "Refresh token",
        "Delete sync source",
    ):
        expect(table).to_contain_text(event)
    shot(page, "admin-log.png")

    # Event type: Settings > Organization Data Sync > Add sync source, and one Administrator.
    event_type = page.get_by_role("group", name="Event type")
    event_type.locator("summary").click()
    expect(event_type).to_contain_text("Settings > Organization Data Sync")
    page.get_by_role("checkbox", name="Add sync source", exact=True).check()
    event_type.locator("summary").click()
    page.get_by_label("Administrator", exact=True).select_option(label="maria.garcia@acme.test")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"event_type=Add(\+|%20)sync(\+|%20)source"))
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Okta")
    expect(table).to_contain_text("maria.garcia@acme.test")
    table.get_by_role("link", name=re.compile(r"^Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("heading", name="Admin log details")).to_be_visible()
    expect(drawer).to_contain_text("198.51.100.61")
    expect(drawer.locator(".diff-table")).to_contain_text("Provider")
    drawer.get_by_role("button", name="Close details").click()

    # A reload of the pushed URL is the same filtered page.
    page.reload()
    expect(page.locator("#log-panel tbody tr")).to_have_count(1)
    expect(page.get_by_label("Administrator", exact=True)).to_have_value(re.compile(r"\d+"))

    # Edit sync configurations by the owner: the field-by-field change of the settings.
    event_type = page.get_by_role("group", name="Event type")
    event_type.locator("summary").click()
    page.get_by_role("checkbox", name="Add sync source", exact=True).uncheck()
    page.get_by_role("checkbox", name="Edit sync configurations", exact=True).check()
    event_type.locator("summary").click()
    page.get_by_label("Administrator", exact=True).select_option(label="owner@acme.test")
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Edit sync configurations")
    table.get_by_role("link", name=re.compile(r"^Details")).click()
    expect(drawer).to_contain_text("owner@acme.test")
    expect(drawer).to_contain_text("203.0.113.24")
    expect(drawer.locator(".diff-table")).to_contain_text("Regular = regular employee")
    expect(drawer.locator(".diff-table")).to_contain_text("maria.garcia@acme.test")
    shot(page, "admin-log-details.png")


def choose(page: Page, label: str, name: str, value: str) -> None:
    """Pick ``value`` in a filter, then wait until the panel it asks for is in and htmx has set it up (each
    choice replaces the whole panel, its form too)."""
    page.get_by_label(label, exact=True).select_option(value)
    expect(page).to_have_url(re.compile(rf"[?&]{name}={value}(&|$)"))
    htmx_settled(page)


def test_sync_log_from_the_card_filtered_with_details_of_associated_objects_seed_3(page, live_server, app, org):
    source_id, public_id, token = configure_sync(app, org)
    sync_history(live_server.url, public_id, token)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server.url, org)
    # Settings > Directory Sync, then Sync log on the JumpCloud Sync App card.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Directory Sync").click()
    page.locator(f"#source-{source_id}").get_by_role("link", name="Sync log").click()
    expect(page.get_by_role("heading", name="Sync log")).to_be_visible()
    table = page.locator("#log-panel tbody")
    expect(table.locator("tr")).to_have_count(6)
    shot(page, "sync-log.png")

    choose(page, "Result", "result", "failure")
    expect(table.locator("tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"result=failure"))
    choose(page, "Result", "result", "")
    choose(page, "Object type", "object_type", "group")
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Research Guild")
    choose(page, "Object type", "object_type", "")
    choose(page, "Operation", "operation", "deactivate")
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("grace.hopper@acme.test")
    choose(page, "Operation", "operation", "create")
    page.get_by_label("Search", exact=True).fill("ada")
    expect(table.locator("tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=ada"))

    table.get_by_role("link", name=re.compile(r"^Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("heading", name="Sync log details")).to_be_visible()
    associated = drawer.locator("section", has=page.get_by_role("heading", name="Associated objects"))
    expect(associated.get_by_role("row", name=re.compile("Department.*Research"))).to_be_visible()
    expect(associated.get_by_role("row", name=re.compile("Job title.*Principal Engineer"))).to_be_visible()
    expect(drawer).not_to_contain_text("JumpCloud-initial-secret")
    shot(page, "sync-log-details.png")

    # A refused request's details carry the hint that fixes it.
    drawer.get_by_role("button", name="Close details").click()
    expect(drawer).to_be_hidden()  # closed before the next one opens, or the click can land on the closing drawer
    page.get_by_label("Search", exact=True).fill("alan")
    expect(table).to_contain_text("alan.turing@acme.test")
    expect(table.locator("tr")).to_have_count(1)
    table.get_by_role("link", name=re.compile(r"^Details of create alan")).click()
    expect(drawer).to_contain_text("alan.turing@acme.test")
    expect(drawer).to_contain_text("In JumpCloud make the work email equal to the username")
