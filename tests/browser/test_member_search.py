"""Members search, order and export in a real Chromium, on a desktop (1280x800) and a phone (390x844).

Issue 13 section 2: typing any part of a name (accents folded) or an email narrows the list as you
type; the order (a column header on a desktop, Sort by on both) stays through the next search, in the
URL and in the export link. Run with SCREENSHOTS_DIR=docs/screenshots to also save the pages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import members
from portal.core.actors import Actor
from portal.extensions import db
from tests.browser.support import VIEWPORTS, htmx_settled, shot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people(app: Any, org: Any) -> None:
    with app.app_context():
        for email, name, title in (
            ("anna@acme.test", "Anna Smith", "Staff Engineer"),
            ("paul@globex.test", "Paul Goldsmith", ""),
            ("juergen@initech.test", "Jürgen Müller", ""),
            ("jan@globex.test", "Jan Kowalski", ""),
        ):
            members.create_member(
                org.id, {"external_id": email, "email": email, "name": name, "job_title": title}, Actor.cli()
            )
        db.session.commit()


def names(page: Page) -> Any:
    """The names the list shows, for ``expect(...).to_have_text([...])`` (which waits for them)."""
    return page.locator("#member-results tbody .cell-primary")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_type_to_search_by_any_part_then_sort_and_the_order_stays(page, live_server, org, people, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    rows = page.locator("#member-results tbody tr")
    expect(rows).to_have_count(4)
    search = page.get_by_role("searchbox", name="Search")

    # An accent the admin does not type, inside the name.
    search.press_sequentially("muller", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Jürgen Müller")
    expect(page).to_have_url(re.compile(r"q=muller"))

    # A piece of a word: "smith" is in Smith and in Goldsmith.
    search.fill("")
    search.press_sequentially("smith", delay=40)
    expect(names(page)).to_have_text(["Anna Smith", "Paul Goldsmith"])
    htmx_settled(page)

    # Name, Z to A: the column header on a desktop, Sort by on a phone (the header folds away with the table).
    if viewport["width"] > 900:
        page.locator("#member-results thead").get_by_role("link", name="Name and email").click()
    else:
        page.get_by_label("Sort by").select_option("-name")
    expect(page).to_have_url(re.compile(r"sort=-name"))
    expect(names(page)).to_have_text(["Paul Goldsmith", "Anna Smith"])
    expect(page.get_by_label("Sort by")).to_have_value("-name")

    # The next search keeps the order: an email domain, Paul before Jan.
    search.fill("")
    search.press_sequentially("globex", delay=40)
    expect(names(page)).to_have_text(["Paul Goldsmith", "Jan Kowalski"])
    expect(page).to_have_url(re.compile(r"q=globex.*sort=-name|sort=-name.*q=globex"))
    export = page.get_by_role("link", name="Export CSV")
    expect(export).to_have_attribute("href", re.compile(r"/organization/members/export\.csv\?q=globex&sort=-name"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the page scrolls sideways to {width}px"
    shot(page, "members-search-phone.png" if viewport["width"] < 900 else "members-search.png")

    # The export downloads what the list shows, in its order.
    with page.expect_download() as download:
        export.click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["Paul Goldsmith", "Jan Kowalski"]

    # A reload shows the same list from the URL.
    page.reload()
    expect(search).to_have_value("globex")
    expect(names(page)).to_have_text(["Paul Goldsmith", "Jan Kowalski"])
