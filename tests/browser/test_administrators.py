"""Settings > Administrators in a real Chromium (issue 7): a sync-only administrator sees Directory Sync only."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_primary_adds_a_sync_only_administrator_who_sees_directory_sync_but_not_the_admin_log_issue_7(
        page: Page, live_server, org) -> None:
    _sign_in(page, live_server.url, org.email, org.password)
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="Administrators").click()
    expect(page.get_by_role("heading", name="Administrators", level=1)).to_be_visible()

    page.get_by_role("link", name="Add administrator").click()
    page.get_by_role("textbox", name="Name").fill("Sam Sync")
    page.get_by_role("textbox", name="Email").fill("sam@acme.test")
    page.get_by_label("Organization data synchronization").check()
    page.get_by_label("Show an initial password now").check()
    page.get_by_role("button", name="Add administrator").click()

    password_box = page.get_by_role("textbox", name="Initial password", exact=True)
    expect(password_box).to_be_visible()
    password = password_box.input_value()
    assert len(password) >= 12

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    _sign_in(page, live_server.url, "sam@acme.test", password)

    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Directory Sync")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin log")).to_have_count(0)
    expect(nav.get_by_role("link", name="Administrators")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/")
