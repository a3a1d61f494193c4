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
    page: Page, live_server, org
) -> None:
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
    # An initial password must be changed first (issue 13).
    expect(page).to_have_url(f"{live_server.url}/account/password")
    page.locator("#field-current_password").fill(password)
    page.locator("#field-new_password").fill("sam's own passphrase")
    page.locator("#field-confirm_password").fill("sam's own passphrase")
    page.get_by_role("button", name="Save password and continue").click()

    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Directory Sync")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin log")).to_have_count(0)
    expect(nav.get_by_role("link", name="Administrators")).to_have_count(0)
    # No sync source yet: a sync administrator lands on the getting-started checklist (issue 13).
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()


def test_transfer_primary_asks_for_confirmation_then_hands_the_role_over_issue_7(
    page: Page, live_server, app, org
) -> None:
    from tests.factories import make_admin

    make_admin(app, org, "next@acme.test", {"admin_log"})
    _sign_in(page, live_server.url, org.email, org.password)
    page.goto(f"{live_server.url}/settings/administrators/")
    page.get_by_role("link", name="Transfer primary administrator").click()
    page.get_by_label("New primary administrator").select_option(label="next@acme.test (next@acme.test)")
    page.get_by_label("Your password").fill(org.password)
    page.get_by_role("button", name="Transfer primary administrator").click()

    dialog = page.get_by_role("dialog", name="Transfer the primary administrator role?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(f"{live_server.url}/settings/administrators/transfer")

    page.get_by_role("button", name="Transfer primary administrator").click()
    dialog.get_by_role("button", name="Transfer").click()
    expect(page).to_have_url(f"{live_server.url}/account")
    expect(page.get_by_text("next@acme.test is now the primary administrator.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Administrators")).to_have_count(0)
    expect(nav.get_by_role("link", name="Directory Sync")).to_be_visible()
