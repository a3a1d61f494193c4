"""The Admin log and a source's Sync log in a real Chromium, walked by the seed's labels (seed section 3).

Set SCREENSHOT_DIR to also save the pages as docs/screenshots images.
"""
from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal import sync
from portal.actors import Actor
from portal.extensions import db
from portal.models import Admin, SyncLog, utcnow
from tests.directory_support import sync_member
from tests.factories import make_admin

pytestmark = pytest.mark.browser

SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def shot(page: Page, name: str) -> None:
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        # The drawer slides in: take the picture once it has arrived.
        page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / name))


def configure_sync(app: Any, org: Any) -> tuple[int, int]:
    """The owner adds and activates JumpCloud, a helper adds Okta: admin log entries with IPs."""
    helper = make_admin(app, org, "maria.garcia@acme.test", {"org_data_sync"})
    with app.app_context():
        owner = Actor.for_admin(db.session.get(Admin, org.admin_id), "203.0.113.24")
        source, _ = sync.create_source(org.id, "jumpcloud", owner)
        sync.set_active(org.id, source.id, True, owner)
        sync.refresh_token(org.id, source.id, owner)
        sync.create_source(org.id, "okta", Actor.for_admin(db.session.get(Admin, helper), "198.51.100.61"))
        db.session.commit()
        return source.id, helper


def sync_history(app: Any, org: Any, source_id: int) -> None:
    """What JumpCloud's pushes leave in the sync log: creates with associated objects, updates, failures."""
    ada = sync_member(app, org.id, source_id, "ada.lovelace@acme.test", "Ada Lovelace",
                      department="Research", job_title="Principal Engineer")
    with app.app_context():
        # What the SCIM receiver records beside the associated objects of a create.
        entry = db.session.scalar(sa.select(SyncLog).where(SyncLog.object_id == ada))
        entry.duration_ms = 42
        entry.request_id = "4f2a9b7c"
        entry.path = "/scim/v2/…/Users"
        entry.changes = {"userName": [None, "ada.lovelace@acme.test"], "name": [None, "Ada Lovelace"],
                         "job_title": [None, "Principal Engineer"], "departments": [None, ["Research"]]}
        entry.request_body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "ada.lovelace@acme.test", "displayName": "Ada Lovelace", "title": "Principal Engineer",
            "emails": [{"type": "work", "value": "ada.lovelace@acme.test", "primary": True}],
            "password": "[redacted]", ENTERPRISE: {"department": "Research", "employeeNumber": "E-1815"},
        }
        db.session.commit()
    people = [
        ("grace.hopper@acme.test", "update", "success", 200, None, None,
         {"job_title": ["Engineer", "Rear Admiral"], "mobile": [None, "+1 202 555 0143"]}),
        ("alan.turing@acme.test", "create", "failure", 409, "uniqueness", "email is already taken in this organization", {}),
        ("katherine.johnson@acme.test", "deactivate", "success", 200, None, None, {"status": ["active", "inactive"]}),
        ("linus@acme.test", "create", "failure", 400, "invalidValue",
         "userName and the work email must be the same", {}),
        ("Engineering", "link", "success", 200, None, None, {"members": [None, "3 members"]}),
        ("margaret.hamilton@acme.test", "reactivate", "success", 200, None, None, {"status": ["inactive", "active"]}),
        ("tim.berners-lee@acme.test", "update", "success", 200, None, None, {"work_country": ["GB", "CH"]}),
    ]
    with app.app_context():
        now = utcnow()
        for i, (name, op, result, status, scim_type, detail, changes) in enumerate(people):
            db.session.add(SyncLog(
                org_id=org.id, source_id=source_id, created_at=now - timedelta(minutes=7 * (i + 1)), operation=op,
                object_type="group" if op == "link" else "member", object_id=None, object_name=name, result=result,
                status_code=status, scim_type=scim_type, error_detail=detail, changes=changes, associated=[],
                notes=[], duration_ms=18 + 9 * i, request_id=f"9c1e{i:04d}", method="PATCH" if op != "create" else "POST",
                path="/scim/v2/…/Users", request_body={"userName": name, "emails": [{"type": "work", "value": name}],
                                                       ENTERPRISE: {"department": "Research"}},
            ))
        db.session.commit()


def sign_in(page: Page, base: str, org: Any) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_log_filtered_by_event_type_and_administrator_with_details_seed_3(page, live_server, app, org):
    configure_sync(app, org)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server.url, org)
    # Compliance > Audit Log > Admin log
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Admin log").click()
    expect(page.get_by_role("heading", name="Admin log")).to_be_visible()
    table = page.locator("#log-panel tbody")
    expect(table).to_contain_text("Refresh token")
    shot(page, "admin-log.png")

    event_type = page.get_by_role("group", name="Event type")
    event_type.locator("summary").click()
    expect(event_type).to_contain_text("Settings > Organization Data Sync")
    page.get_by_role("checkbox", name="Add sync source", exact=True).check()
    event_type.locator("summary").click()
    page.get_by_label("Administrator", exact=True).select_option(label="maria.garcia@acme.test")
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"event_type=Add(\+|%20)sync(\+|%20)source"))
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("Okta")
    expect(table).to_contain_text("maria.garcia@acme.test")

    table.get_by_role("link", name=re.compile(r"^Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("heading", name="Admin log details")).to_be_visible()
    expect(drawer).to_contain_text("maria.garcia@acme.test")
    expect(drawer).to_contain_text("198.51.100.61")
    expect(drawer.locator(".diff-table")).to_contain_text("provider")
    shot(page, "admin-log-details.png")

    # A reload of the pushed URL is the same filtered page.
    drawer.get_by_role("button", name="Close details").click()
    page.reload()
    expect(page.locator("#log-panel tbody tr")).to_have_count(1)
    expect(page.get_by_label("Administrator", exact=True)).to_have_value(re.compile(r"\d+"))


def test_sync_log_filtered_with_details_of_associated_objects_seed_3(page, live_server, app, org):
    source_id, _helper = configure_sync(app, org)
    sync_history(app, org, source_id)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server.url, org)
    page.goto(f"{live_server.url}/settings/directory-sync/{source_id}/sync-log")
    table = page.locator("#log-panel tbody")
    expect(table.locator("tr")).to_have_count(8)
    shot(page, "sync-log.png")

    page.get_by_label("Result", exact=True).select_option("failure")
    expect(table.locator("tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"result=failure"))
    page.get_by_label("Result", exact=True).select_option("")
    page.get_by_label("Operation", exact=True).select_option("create")
    expect(table.locator("tr")).to_have_count(3)
    page.get_by_label("Search", exact=True).fill("ada")
    expect(table.locator("tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=ada"))

    table.get_by_role("link", name=re.compile(r"^Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_contain_text("Associated objects")
    expect(drawer).to_contain_text("Department")
    expect(drawer).to_contain_text("Research")
    expect(drawer).to_contain_text("Job title")
    expect(drawer).to_contain_text("Principal Engineer")
    shot(page, "sync-log-details.png")

    # A failure's details carry the hint that fixes it.
    drawer.get_by_role("button", name="Close details").click()
    page.get_by_label("Search", exact=True).fill("alan")
    expect(table).to_contain_text("alan.turing@acme.test")
    expect(table.locator("tr")).to_have_count(1)
    table.get_by_role("link", name=re.compile(r"^Details")).click()
    expect(drawer).to_contain_text("Another member already uses this email: alan.turing@acme.test.")
