"""Keyboard use in a real Chromium (issue 13, point 5): a skip link, focus on each wizard step's heading,
Esc closing the event-type menu and the drawers, and the Admin log's event picker ticking a category's
event types and saying what is chosen. Desktop (1280x800) and phone (390x844)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import members
from portal.core.actors import Actor
from portal.extensions import db
from tests.browser.support import sign_in

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)


def _sign_in(page: Page, live_server: Any, org: Any, viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    sign_in(page, live_server, org)


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))


@VIEWPORTS
def test_a_skip_link_leads_past_the_header_and_navigation(
    page: Page, live_server: Any, org: Any, viewport: Any
) -> None:
    _sign_in(page, live_server, org, viewport)
    page.goto(f"{live_server.url}/organization/members")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab lands inside the page's content, not in the header or the sidebar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


@VIEWPORTS
def test_focus_moves_to_each_wizard_steps_heading(page: Page, live_server: Any, org: Any, viewport: Any) -> None:
    _sign_in(page, live_server, org, viewport)
    page.goto(f"{live_server.url}/settings/directory-sync/new")
    page.get_by_role("button", name=re.compile("^JumpCloud")).click()
    expect(page.get_by_role("heading", name="Configure access security", level=2)).to_be_focused()
    for heading in ("Set attributes", "General settings", "Preview"):
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_focused()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_role("heading", name="General settings", level=2)).to_be_focused()


@VIEWPORTS
def test_esc_closes_the_event_type_menu(page: Page, live_server: Any, org: Any, viewport: Any) -> None:
    _sign_in(page, live_server, org, viewport)
    page.goto(f"{live_server.url}/compliance/audit-log/admin")
    menu = page.locator("details.filter-menu")
    summary = menu.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.get_by_role("checkbox", name="Add member", exact=True).focus()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    # A click elsewhere closes it too.
    summary.click()
    expect(menu).to_have_attribute("open", "")
    page.get_by_role("heading", name="Admin log").click()
    expect(menu).not_to_have_attribute("open", "")


@VIEWPORTS
def test_esc_closes_the_drawers(page: Page, live_server: Any, app: Any, org: Any, viewport: Any) -> None:
    with app.app_context():
        members.create_member(
            org.id, {"external_id": "bob@acme.test", "email": "bob@acme.test", "name": "Bob Builder"}, Actor.cli()
        )
        db.session.commit()
    _sign_in(page, live_server, org, viewport)
    page.goto(f"{live_server.url}/organization/members")
    drawer = page.locator("#drawer")
    page.get_by_role("link", name="Details of Bob Builder").click()
    expect(drawer).to_be_visible()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    # From a field of the edit form as well, and from the Admin log's details drawer.
    page.get_by_role("link", name="Details of Bob Builder").click()
    drawer.get_by_role("link", name="Edit").click()
    drawer.get_by_role("textbox", name="Name", exact=True).focus()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    page.goto(f"{live_server.url}/compliance/audit-log/admin")
    page.locator("#log-panel tbody").get_by_role("link", name=re.compile("^Details")).first.click()
    expect(drawer).to_be_visible()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()


@VIEWPORTS
def test_a_category_ticks_its_event_types_and_the_label_says_what_is_chosen(
    page: Page, live_server: Any, org: Any, viewport: Any
) -> None:
    _sign_in(page, live_server, org, viewport)
    page.goto(f"{live_server.url}/compliance/audit-log/admin")
    menu = page.locator("details.filter-menu")
    summary = menu.locator("summary")
    expect(summary).to_have_text("All event types")
    summary.click()
    category = page.get_by_role("checkbox", name="Settings > Administrators", exact=True)
    category.check()
    for child in ("Add administrator", "Reset password", "Sign out everywhere"):
        expect(page.get_by_role("checkbox", name=child, exact=True)).to_be_checked()
    expect(summary).to_have_text("Settings > Administrators (all)")
    # One child unticked: the category is no longer whole, and the label lists what is left.
    page.get_by_role("checkbox", name="Reset password", exact=True).uncheck()
    expect(category).not_to_be_checked()
    assert page.evaluate(
        "document.querySelector('input[name=category][value=\"Settings > Administrators\"]').indeterminate"
    )
    expect(summary).to_have_text(re.compile(r"^Add administrator, Edit administrator \+\d+ more$"))
    # A click on the half-ticked category ticks it whole; the next unticks every event type of it.
    category.check()
    expect(page.get_by_role("checkbox", name="Reset password", exact=True)).to_be_checked()
    category.uncheck()
    expect(page.get_by_role("checkbox", name="Add administrator", exact=True)).not_to_be_checked()
    page.get_by_role("checkbox", name="Add member", exact=True).check()
    expect(summary).to_have_text("Add member")
    # The choice is what the search sends, and the page it brings back says the same.
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"event_type=Add(\+|%20)member"))
    expect(page.locator("details.filter-menu summary")).to_have_text("Add member")
