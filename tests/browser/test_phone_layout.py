"""The phone layout and long values in a real Chromium (issue 13, point 5).

At 390x844 no main page scrolls sideways (``document.documentElement.scrollWidth <= 390``): the sidebar
folds behind the menu button (a ``<button aria-expanded>``, static/js/layout.js) and tables become cards,
each cell labelled by its column. On a desktop a 255-character name wraps in the table and the drawer
instead of widening them. With SCREENSHOTS_DIR set, the phone pages are saved for the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import departments, members
from portal.core.actors import Actor
from portal.extensions import db
from tests.directory_support import log_sync, make_source, sync_member
from tests.factories import make_admin

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
OUT = os.environ.get("SCREENSHOTS_DIR", "")
LONG_NAME = "Maximiliana " + "Wolfeschlegelsteinhausenbergerdorff" * 7


def _sign_in(page: Page, live_server: Any, email: str, password: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


@pytest.fixture
def directory(app: Any, org: Any) -> dict[str, int]:
    """A synced member in a synced department, a hand-made member with a 255-character name, a sync log."""
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "ada@acme.test", "Ada Lovelace", department="Engineering", job_title="Engineer")
    make_admin(app, org, "it-ops@acme.test", {"org_data_sync"})
    with app.app_context():
        from portal.models import SyncSource

        log_sync(db.session.get(SyncSource, source_id), "update", object_name="ada@acme.test")
        sales = departments.create_department(org.id, "Sales", Actor.cli())
        long = members.create_member(
            org.id,
            {
                "external_id": "max@acme.test",
                "email": "max@acme.test",
                "name": LONG_NAME[:255],
                "department_ids": [sales.id],
            },
            Actor.cli(),
        )
        db.session.commit()
        return {"source": source_id, "long": long.id, "sales": sales.id}


def _pages(ids: dict[str, int]) -> list[tuple[str, str]]:
    source = ids["source"]
    return [
        ("members", "/organization/members"),
        ("departments", "/organization/members/departments"),
        ("groups", "/organization/groups"),
        ("fields", "/organization/fields"),
        ("directory-sync", "/settings/directory-sync/"),
        ("directory-sync-details", f"/settings/directory-sync/{source}"),
        ("sync-log", f"/settings/directory-sync/{source}/sync-log"),
        ("providers", "/settings/directory-sync/new"),
        ("administrators", "/settings/administrators/"),
        ("add-administrator", "/settings/administrators/new"),
        ("api-keys", "/settings/api-keys/"),
        ("webhooks", "/settings/webhooks/"),
        ("admin-log", "/compliance/audit-log/admin"),
        ("notifications", "/notifications/"),
        ("profile", "/account"),
        ("member-page", f"/organization/members/{ids['long']}"),
    ]


def _scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    if OUT:
        Path(OUT).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(OUT) / name), full_page=full_page)


def test_no_main_page_scrolls_sideways_on_a_phone(
    page: Page, live_server: Any, org: Any, directory: dict[str, int]
) -> None:
    page.set_viewport_size(PHONE)
    _sign_in(page, live_server, org.email, org.password)
    wide = {}
    for _name, url in _pages(directory):
        response = page.goto(f"{live_server.url}{url}")
        assert response is not None and response.status == 200, url
        width = _scroll_width(page)
        if width > PHONE["width"]:
            wide[url] = width
    assert wide == {}
    # The home page (the getting-started checklist) and the signed-out pages fit too.
    for url in ("/", "/login", "/forgot-password"):
        page.goto(f"{live_server.url}{url}")
        assert _scroll_width(page) <= PHONE["width"], url


def test_the_sidebar_folds_behind_a_menu_button_on_a_phone(
    page: Page, live_server: Any, org: Any, directory: dict[str, int]
) -> None:
    page.set_viewport_size(PHONE)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/organization/members")
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Console")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    _shot(page, "phone-members.png")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    # Sign out and the profile, which the narrow header has no room for, are in the menu.
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(nav).to_have_css("transform", "none")  # the slide-in is over
    _shot(page, "phone-menu.png", full_page=False)
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    nav.get_by_role("link", name="Directory Sync").click()
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/")
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
    _shot(page, "phone-directory-sync.png")


def test_tables_become_labelled_cards_on_a_phone(
    page: Page, live_server: Any, org: Any, directory: dict[str, int]
) -> None:
    page.set_viewport_size(PHONE)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/compliance/audit-log/admin")
    row = page.locator("table.table tbody tr").first
    cells = row.locator("td")
    assert cells.nth(0).get_attribute("data-label") == "Time (UTC)"
    assert cells.nth(1).get_attribute("data-label") == "Event type"
    label = page.evaluate(
        "getComputedStyle(document.querySelector('table.table tbody td[data-label]'), '::before').content"
    )
    assert label == '"Time (UTC)"'
    # One card per row: the row is a block as wide as the table, its cells stacked.
    boxes = [cells.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"]
    _shot(page, "phone-admin-log.png")
    # Rows swapped in later by htmx are labelled too.
    page.goto(f"{live_server.url}/organization/members")
    page.get_by_role("searchbox").fill("Ada")
    expect(page.locator("table.table tbody tr")).to_have_count(1)
    expect(page.locator("table.table tbody tr td[data-label='Status']")).to_have_count(1)


def test_on_a_desktop_the_sidebar_stays_and_the_menu_button_is_hidden(page: Page, live_server: Any, org: Any) -> None:
    page.set_viewport_size(DESKTOP)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/organization/members")
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    assert _scroll_width(page) <= DESKTOP["width"]


def test_a_255_character_name_wraps_in_the_table_and_the_drawer(
    page: Page, live_server: Any, org: Any, directory: dict[str, int]
) -> None:
    page.set_viewport_size(DESKTOP)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/organization/members")
    table = page.locator("#member-results table").bounding_box()
    main = page.locator("#main").bounding_box()
    assert table and main and table["x"] + table["width"] <= main["x"] + main["width"]
    assert _scroll_width(page) <= DESKTOP["width"]
    page.get_by_role("link", name=re.compile("^Details of Maximiliana")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_have_css("transform", "matrix(1, 0, 0, 1, 0, 0)")  # its slide-in is over
    close = drawer.get_by_role("button", name="Close details").bounding_box()
    assert close is not None and close["x"] + close["width"] <= DESKTOP["width"]
    title = drawer.locator("#drawer-title").bounding_box()
    assert title is not None and title["x"] + title["width"] <= DESKTOP["width"]
    # The edit form's error text wraps too (a too-long name refused, every error shown at once).
    drawer.get_by_role("link", name="Edit").click()
    drawer.get_by_role("textbox", name="Name", exact=True).fill("N" * 300)
    drawer.get_by_role("textbox", name="Email", exact=True).fill("max@acme")
    drawer.get_by_role("button", name="Save").click()
    expect(drawer.locator(".field-error")).to_have_count(2)
    for error in drawer.locator(".field-error").all():
        box = error.bounding_box()
        assert box is not None and box["x"] + box["width"] <= DESKTOP["width"]
    # Typing in a field drops its stale error; the other stays until fixed.
    drawer.get_by_role("textbox", name="Email", exact=True).fill("max@acme.test")
    expect(drawer.locator(".field-error")).to_have_count(1)


def test_the_wizard_and_a_confirmation_fit_a_phone(
    page: Page, live_server: Any, org: Any, directory: dict[str, int]
) -> None:
    page.set_viewport_size(PHONE)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/settings/directory-sync/new")
    page.get_by_role("button", name=re.compile("^Okta")).click()
    expect(page.get_by_role("heading", name="Configure access security")).to_be_visible()
    assert _scroll_width(page) <= PHONE["width"]
    _shot(page, "phone-wizard.png")
    page.goto(f"{live_server.url}/settings/directory-sync/{directory['source']}")
    page.get_by_role("button", name="Deactivate").click()
    dialog = page.get_by_role("dialog", name=re.compile("Deactivate JumpCloud"))
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert _scroll_width(page) <= PHONE["width"]
    _shot(page, "phone-confirm-deactivate.png", full_page=False)
