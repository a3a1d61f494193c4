"""The login page in a real Chromium: sign in, land on the console, sign out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_in_land_on_console_and_sign_out(page, live_server, org):
    page.goto(f"{live_server.url}/organization/members")
    expect(page).to_have_url(f"{live_server.url}/login?next=/organization/members")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")

    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/organization/members")
    expect(page.get_by_role("navigation", name="Console")).to_contain_text("Directory Sync")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/organization/members")
    expect(page).to_have_url(f"{live_server.url}/login?next=/organization/members")
