"""Sync health in a real Chromium, on a desktop (1280x800) and a phone (390x844): issue 13 section 1.

The details page's charts, the Sync log's page number in the address bar, and the
unread badge beside the bell. Run with SCREENSHOTS_DIR=docs/screenshots to also save
the Sync App card and the charts for the README.
"""

from __future__ import annotations

import os
import random
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import notifications
from portal.extensions import db
from portal.models import SyncLog, SyncSource, utcnow
from tests.directory_support import make_source_with_token, sync_member

pytestmark = pytest.mark.browser

SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")
VIEWPORTS = [
    pytest.param({"width": 1280, "height": 800}, id="desktop"),
    pytest.param({"width": 390, "height": 844}, id="phone"),
]


def shot(page: Page, name: str, element: Any = None) -> None:
    if not SCREENSHOTS_DIR:
        return
    Path(SCREENSHOTS_DIR).mkdir(parents=True, exist_ok=True)
    # A viewport as tall as the page: nothing scrolls, so the sticky header covers no part of the element.
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": viewport["width"], "height": page.evaluate("document.body.scrollHeight")})
    (element or page).screenshot(path=str(Path(SCREENSHOTS_DIR) / name))
    page.set_viewport_size(viewport)


def sign_in(page: Page, base: str, org: Any) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def seed_week(app: Any, org: Any) -> int:
    """An active JumpCloud source with a week of Sync log rows (about 8 % failures) and three members."""
    source_id, _, _ = make_source_with_token(app, org.id, name="JumpCloud staff")
    for user, name in (
        ("ada@acme.test", "Ada Lovelace"),
        ("alan@acme.test", "Alan Turing"),
        ("grace@acme.test", "Grace Hopper"),
    ):
        sync_member(app, org.id, source_id, user, name)
    rng = random.Random(13)
    now = utcnow()
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for n in range(420):
            failed = rng.random() < 0.08
            db.session.add(
                SyncLog(
                    org_id=org.id,
                    source_id=source_id,
                    created_at=now - timedelta(minutes=rng.randint(0, 7 * 24 * 60 - 1)),
                    operation=rng.choice(["create", "update", "update", "update", "deactivate"]),
                    object_type="member",
                    object_name=f"user{n}@acme.test",
                    result="failure" if failed else "success",
                    status_code=400 if failed else 200,
                    error_detail="displayName is required" if failed else None,
                    changes={},
                    associated=[],
                    notes=[],
                    method="PATCH",
                    path="/Users",
                    request_body={},
                )
            )
        source.last_request_at = source.last_success_at = now
        source.last_status = 200
        db.session.commit()
    return source_id


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_details_page_shows_the_charts(page: Page, live_server: Any, app: Any, org: Any, viewport: Any) -> None:
    source_id = seed_week(app, org)
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, org)

    page.goto(f"{live_server.url}/settings/directory-sync/")
    card = page.locator(f"#source-{source_id}")
    expect(card.get_by_role("heading", name="JumpCloud staff")).to_be_visible()
    expect(card.get_by_text("Last success")).to_be_visible()
    expect(card.locator(".health-failures")).to_contain_text("failed request")
    if viewport["width"] > 1000:
        shot(page, "sync-health-card.png", card)

    card.get_by_role("link", name="JumpCloud staff").click()
    expect(page.get_by_role("heading", name="Sync health")).to_be_visible()
    for name in (
        "Requests per hour, last 24 hours (UTC)",
        "Requests per day, last 7 days (UTC)",
        "Members created, updated and suspended per day",
    ):
        chart = page.get_by_role("img", name=name)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 100
    assert page.locator(".chart-bar.chart-success").count() > 10
    assert page.locator(".chart-bar.chart-failure").count() > 0
    # The figures for screen readers: a hidden table per chart, one row per hour or day.
    assert page.locator(".chart table tbody tr").count() == 24 + 7 + 7
    # No sideways scrolling, on a phone either.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    section = page.locator("section.sync-health")
    shot(page, f"sync-health-charts{'' if viewport['width'] > 1000 else '-phone'}.png", section)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_sync_log_page_number_survives_a_reload(
    page: Page, live_server: Any, app: Any, org: Any, viewport: Any
) -> None:
    source_id = seed_week(app, org)
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, org)
    page.goto(f"{live_server.url}/settings/directory-sync/{source_id}/sync-log")
    first_page_top = page.locator("#log-panel tbody tr").first.inner_text()

    page.get_by_role("link", name="Page 2", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/{source_id}/sync-log?page=2")
    expect(page.get_by_role("link", name="Page 2, current page")).to_be_visible()
    second_page_top = page.locator("#log-panel tbody tr").first.inner_text()
    assert second_page_top != first_page_top

    page.reload()
    expect(page.get_by_role("link", name="Page 2, current page")).to_be_visible()
    assert page.locator("#log-panel tbody tr").first.inner_text() == second_page_top
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/{source_id}/sync-log")

    # Filtered first (the panel swapped in by htmx), then paged: both stay in the address.
    page.get_by_label("Result").select_option("success")
    expect(page).to_have_url(re.compile(r"/sync-log\?.*result=success"))
    page.get_by_role("link", name="Page 3", exact=True).click()
    expect(page).to_have_url(re.compile(r"/sync-log\?(?=.*result=success)(?=.*page=3)"))
    page.reload()
    expect(page.get_by_role("link", name="Page 3, current page")).to_be_visible()
    expect(page.get_by_label("Result")).to_have_value("success")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_unread_badge_does_not_cover_the_bell(
    page: Page, live_server: Any, app: Any, org: Any, viewport: Any
) -> None:
    source_id, _, _ = make_source_with_token(app, org.id, notified_admin_ids=[org.admin_id])
    with app.app_context():
        source = db.session.get(SyncSource, source_id)
        for n in range(12):
            notifications.sync_failure(source, f"kind{n}", "displayName is required")
        db.session.commit()
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, org)
    page.goto(f"{live_server.url}/notifications/")
    count = page.get_by_test_id("bell-count")
    expect(count).to_have_text("12")
    # The bell's drawing (its first path, the bell's body) ends left of the badge's edge.
    bell = page.locator("#bell svg path").first.bounding_box()
    badge = count.bounding_box()
    assert bell is not None and badge is not None
    assert badge["x"] >= bell["x"] + bell["width"], (bell, badge)
    # The badge stays inside the header and on the screen.
    assert badge["x"] + badge["width"] <= viewport["width"] and badge["y"] >= 0
