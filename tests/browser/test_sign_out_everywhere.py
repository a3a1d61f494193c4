"""The profile's "Sign out everywhere" in a real Chromium (issue 12, item 7): asked, then every session ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # A new organization lands on the getting-started checklist (issue 13).
    expect(page).to_have_url(f"{base}/")


def test_sign_out_everywhere_asks_then_ends_this_and_the_other_browsers_session_issue_12(
    page: Page, browser: Browser, live_server, org
) -> None:
    other = browser.new_context().new_page()
    _sign_in(other, live_server.url, org.email, org.password)
    _sign_in(page, live_server.url, org.email, org.password)
    page.goto(f"{live_server.url}/account")

    page.get_by_role("button", name="Sign out everywhere").click()
    dialog = page.get_by_role("dialog", name="Sign out everywhere?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    other.goto(f"{live_server.url}/organization/members")
    expect(other).to_have_url(f"{live_server.url}/organization/members")  # nothing ended on Cancel

    page.get_by_role("button", name="Sign out everywhere").click()
    dialog.get_by_role("button", name="Sign out everywhere").click()

    expect(page).to_have_url(f"{live_server.url}/login")
    other.goto(f"{live_server.url}/organization/members")
    expect(other).to_have_url(f"{live_server.url}/login?next=/organization/members")
    other.context.close()
