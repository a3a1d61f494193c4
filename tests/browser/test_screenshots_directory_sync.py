"""Screenshots of Settings > Directory Sync for the README (run with SCREENSHOTS_DIR=docs/screenshots).

Not a behaviour test: it walks the wizard with realistic data and saves one PNG per
step and one of the Sync App cards, so the pictures always show the current pages.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.core import sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Member, SyncSource, utcnow
from tests.factories import make_admin

OUT = os.environ.get("SCREENSHOTS_DIR", "")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not OUT, reason="set SCREENSHOTS_DIR to write the Directory Sync screenshots"),
]


def _shot(page: Page, name: str) -> None:
    # A viewport as tall as the page, so the sticky sidebar reaches the bottom of the picture.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, height)})
    Path(OUT).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(OUT) / name))
    page.set_viewport_size({"width": 1440, "height": 900})


def test_directory_sync_screenshots(page: Page, live_server: Any, app: Any, org: Any) -> None:
    make_admin(app, org, "it-ops@acme.test", {"org_data_sync"})
    make_admin(app, org, "security@acme.test", {"org_data_sync", "admin_log"})
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/settings/directory-sync/")
    _shot(page, "directory-sync-empty.png")
    page.get_by_role("link", name="Add sync source").click()
    expect(page.get_by_role("button", name=re.compile("^JumpCloud"))).to_be_visible()
    _shot(page, "wizard-0-providers.png")
    page.get_by_role("button", name=re.compile("^JumpCloud")).click()
    expect(page.locator("#scim-token")).to_be_visible()
    _shot(page, "wizard-1-access-security.png")
    page.get_by_role("button", name="Next").click()

    page.get_by_label("Field value of Employee Type in JumpCloud").fill("Regular")
    page.get_by_label("Name of Workforce Type").select_option(label="regular employee")
    for value, kind in (("Consultant", "consultant"), ("Intern", "intern")):
        page.get_by_role("button", name="Add rule").click()
        page.get_by_label("Field value of Employee Type in JumpCloud").last.fill(value)
        page.get_by_label("Name of Workforce Type").last.select_option(label=kind)
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Field value of Employee Type in JumpCloud").last.fill("regular")
    page.get_by_label("Name of Workforce Type").last.select_option(label="contractor")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".field-error").first).to_be_visible()
    _shot(page, "wizard-2-set-attributes-error.png")
    page.get_by_role("button", name="Remove rule").last.click()
    page.get_by_role("button", name="Next").click()

    page.get_by_label("Sync source name").fill("JumpCloud · Production")
    page.get_by_role("checkbox", name=re.compile("it-ops@acme.test")).check()
    page.get_by_role("checkbox", name="Employee ID").check()
    _shot(page, "wizard-3-general-settings.png")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("button", name="Save and Activate")).to_be_visible()
    _shot(page, "wizard-4-preview.png")
    page.get_by_role("button", name="Save and Activate").click()
    expect(page.locator("article.app-card")).to_have_count(1)

    page.get_by_role("link", name="Add sync source").click()
    page.get_by_role("button", name=re.compile("^Okta")).click()
    expect(page.locator("#scim-token")).to_be_visible()
    with app.app_context():
        jc, okta = db.session.query(SyncSource).order_by(SyncSource.id).all()
        jc.last_request_at, jc.last_status, jc.last_success_at = utcnow(), 201, utcnow()
        okta.last_request_at, okta.last_status = utcnow(), 401
        okta.last_error = "The token is invalid: paste the current token into Okta"
        entra, _ = sync_sources.create_source(org.id, "entra", Actor.cli(), name="Entra ID · Contractors")
        sync_sources.set_active(org.id, entra.id, False, Actor.cli())
        entra.token_expires_at = utcnow() + timedelta(days=9, hours=1)
        entra.last_request_at, entra.last_status = utcnow() - timedelta(days=2), 200
        for n, name in enumerate(("Ann Lee", "Bo Chen", "Cara Diaz", "Dev Patel", "Eli Moss")):
            db.session.add(
                Member(
                    org_id=org.id, external_id=f"u{n}@acme.test", email=f"u{n}@acme.test", name=name, source_id=jc.id
                )
            )
        db.session.commit()
    page.goto(f"{live_server.url}/settings/directory-sync/")
    _shot(page, "card.png")
    page.locator("article.app-card").first.get_by_role("link", name="Details").click()
    _shot(page, "directory-sync-details.png")
