"""Onboarding and recovery in a real Chromium (issue 13, point 6), on a desktop (1280x800) and a phone
(390x844): the getting-started checklist, "Forgot password?", and the forced change of an initial password.
With SCREENSHOTS_DIR set, the checklist is saved for the README."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage
from tests.factories import make_admin

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
OUT = os.environ.get("SCREENSHOTS_DIR", "")


def _sign_in(page: Page, live_server: Any, email: str, password: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@VIEWPORTS
def test_the_checklist_leads_through_the_first_steps(
    page: Page, live_server: Any, app: Any, org: Any, viewport: Any
) -> None:
    page.set_viewport_size(viewport)
    _sign_in(page, live_server, org.email, org.password)
    expect(page).to_have_url(f"{live_server.url}/")
    checklist = page.get_by_role("region", name=re.compile("^Set up Acme"))
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()
    expect(checklist).to_contain_text("0 of 4 steps done")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    if OUT and viewport["width"] == 1280:
        Path(OUT).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(OUT) / "getting-started.png"))
    checklist.get_by_role("link", name="Add sync source").click()
    page.get_by_role("button", name=re.compile("^JumpCloud")).click()
    expect(page.get_by_role("heading", name="Configure access security", level=2)).to_be_visible()
    # Back on the home page the draft is where the setup goes on.
    page.goto(f"{live_server.url}/")
    checklist.get_by_role("link", name="Continue setup").click()
    expect(page.get_by_role("heading", name="Configure access security", level=2)).to_be_visible()
    for heading in ("Set attributes", "General settings", "Preview"):
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    page.get_by_role("button", name="Save and Activate").click()
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/")
    page.goto(f"{live_server.url}/")
    expect(checklist).to_contain_text("2 of 4 steps done")
    expect(checklist.locator(".checklist-step.is-done")).to_have_count(2)
    checklist.get_by_role("link", name="Add administrator").click()
    expect(page.get_by_role("heading", name="Add administrator")).to_be_visible()


@VIEWPORTS
def test_forgot_password_sends_a_link_that_sets_a_new_password(
    page: Page, live_server: Any, app: Any, org: Any, viewport: Any
) -> None:
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"  # the outbox keeps the mail; no worker runs here
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(org.email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text(f"If an administrator signs in with {org.email}")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    with app.app_context():
        mail = db.session.scalars(select(OutboxMessage)).one()
        link = re.search(r"https?://\S+(/set-password/\S+)", mail.payload["text"])
    assert link is not None
    page.goto(f"{live_server.url}{link.group(1)}")
    page.locator("#field-new_password").fill("a brand new passphrase")
    page.locator("#field-confirm_password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    _sign_in(page, live_server, org.email, "a brand new passphrase")
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()


def test_forgot_password_without_mail_says_whom_to_ask(page: Page, live_server: Any, app: Any) -> None:
    app.config["SMTP_URL"] = ""
    page.goto(f"{live_server.url}/forgot-password")
    expect(page.get_by_role("main")).to_contain_text("Ask your primary administrator")
    expect(page.get_by_label("Email")).to_have_count(0)


@VIEWPORTS
def test_an_initial_password_must_be_changed_before_anything_else(
    page: Page, live_server: Any, app: Any, org: Any, viewport: Any
) -> None:
    make_admin(app, org, "it@acme.test", {"org_data_sync"})
    page.set_viewport_size(viewport)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/settings/administrators/")
    page.get_by_role("link", name=re.compile("it@acme.test")).first.click()
    page.get_by_role("button", name="Reset password").click()
    initial = page.locator("#initial-password").input_value()
    page.context.clear_cookies()

    _sign_in(page, live_server, "it@acme.test", initial)
    expect(page).to_have_url(f"{live_server.url}/account/password")
    expect(page.get_by_role("heading", name="Choose your own password")).to_be_visible()
    page.goto(f"{live_server.url}/settings/directory-sync/")
    expect(page).to_have_url(f"{live_server.url}/account/password")
    page.locator("#field-current_password").fill(initial)
    page.locator("#field-new_password").fill("my very own passphrase")
    page.locator("#field-confirm_password").fill("my very own passphrase")
    page.get_by_role("button", name="Save password and continue").click()
    expect(page).not_to_have_url(re.compile(r"/account/password"))
    page.goto(f"{live_server.url}/settings/directory-sync/")
    expect(page.get_by_role("heading", name="Directory Sync")).to_be_visible()


def test_an_administrator_saves_their_own_name_on_the_profile_page(page: Page, live_server: Any, org: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/account")
    page.get_by_role("textbox", name="Name").fill("Olivia Owner")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status").or_(page.locator(".banner-success"))).to_contain_text("Your name was saved")
    expect(page.get_by_role("textbox", name="Name")).to_have_value("Olivia Owner")
