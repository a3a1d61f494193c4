"""Bulk work in a real Chromium, on a desktop (1280x800) and a phone (390x844): issue 13 section 3.

Selecting members on the Members tab and suspending them (a synced one is skipped, with the reason),
the CSV import's upload, preview and confirm, and the user group's member picker.
Run with SCREENSHOTS_DIR=docs/screenshots to also save the pages for the README.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core import departments, groups, members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import AdminLog, Member
from tests.browser.support import VIEWPORTS, no_sideways_scroll, shot, sign_in
from tests.directory_support import make_source, sync_member

pytestmark = pytest.mark.browser


@pytest.fixture
def people(app: Any, org: Any) -> None:
    """Ada and Bob made in the Admin Console, Cy synced from JumpCloud; a department Sales; a group Book club."""
    source_id = make_source(app, org.id, name="JumpCloud")
    sync_member(app, org.id, source_id, "cy@acme.test", "Cy Twombly")
    with app.app_context():
        for email, name in (("ada@acme.test", "Ada Lovelace"), ("bob@acme.test", "Bob Builder")):
            members.create_member(org.id, {"external_id": email, "email": email, "name": name}, Actor.cli())
        departments.create_department(org.id, "Sales", Actor.cli())
        groups.create_group(org.id, "Book club", Actor.cli())
        db.session.commit()


def _status(app: Any, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Member.status).where(Member.email == email))


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_select_members_and_suspend_them(page, live_server, app, org, people, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    bar = page.locator("#bulk-form")
    suspend = bar.get_by_role("button", name="Suspend")
    expect(suspend).to_be_disabled()

    # "Select all on this page" (the bar's: a phone hides the table's header), then one less.
    bar.get_by_role("checkbox", name="Select all on this page").check()
    expect(bar).to_contain_text("3 members selected")
    page.get_by_role("checkbox", name="Select Bob Builder").uncheck()
    expect(bar).to_contain_text("2 members selected")
    expect(bar.get_by_role("checkbox", name="Select all on this page")).not_to_be_checked()
    if viewport["width"] > 900:
        page.get_by_role("checkbox", name="Select all members on this page").check()
        expect(bar).to_contain_text("3 members selected")
        page.get_by_role("checkbox", name="Select Bob Builder").uncheck()
    no_sideways_scroll(page)
    if viewport["width"] < 900:
        shot(page, "members-bulk-phone.png")

    suspend.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Suspend the selected members?")
    dialog.get_by_role("button", name="Suspend").click()

    result = page.locator("#bulk-result")
    expect(result).to_contain_text("Suspended 1 member.")
    expect(result).to_contain_text("Skipped 1:")
    expect(result).to_contain_text("Cy Twombly is managed by the sync source JumpCloud")
    # The list refreshed itself: Ada is inactive, and nothing is ticked any more.
    expect(page.locator("#member-results tbody tr", has_text="Ada Lovelace")).to_contain_text("Inactive")
    expect(bar).to_contain_text("Tick members in the list")
    expect(suspend).to_be_disabled()
    no_sideways_scroll(page)
    if viewport["width"] > 900:
        shot(page, "members-bulk-desktop.png")
    assert (_status(app, "ada@acme.test"), _status(app, "bob@acme.test"), _status(app, "cy@acme.test")) == (
        "inactive",
        "active",
        "active",
    )
    with app.app_context():
        entries = list(db.session.scalars(select(AdminLog).where(AdminLog.event_type == "Suspend member")))
        assert len(entries) == 1 and entries[0].changes["members"] == [None, ["Ada Lovelace (ada@acme.test)"]]


def test_move_selected_members_to_a_department(page, live_server, app, org, people):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    page.get_by_role("checkbox", name="Select Ada Lovelace").check()
    page.get_by_role("checkbox", name="Select Bob Builder").check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Department to move the selected members to").select_option(label="Sales")
    bar.get_by_role("button", name="Move").click()
    expect(page.locator("#bulk-result")).to_contain_text("Moved 2 members.")
    expect(page.locator("#member-results tbody tr", has_text="Bob Builder")).to_contain_text("Sales")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_import_upload_preview_confirm(page, live_server, app, org, people, viewport, tmp_path):
    app.config["MEMBER_IMPORT_FOLDER"] = str(tmp_path / "imports")
    page.set_viewport_size(viewport)
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/members")
    page.get_by_role("link", name="Import members").click()
    expect(page.get_by_role("heading", name="Import members", level=1)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the CSV template").click()
    assert download.value.suggested_filename == "member-import-template.csv"

    # A file with mistakes: the preview names each by row and column, and writes nothing.
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Email,Department\nDee Dee,dee@acme,Marketing\nCy Renamed,cy@acme.test,\n", encoding="utf-8")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()
    errors = page.get_by_role("table", name="Errors in the file")
    expect(errors.locator("tbody tr")).to_have_count(3)
    expect(errors).to_contain_text("No department is named 'Marketing'")
    expect(errors).to_contain_text("an import never changes synced members")
    expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)
    no_sideways_scroll(page)

    # The corrected file: preview (nothing written yet), then confirm.
    good = tmp_path / "good.csv"
    good.write_text(
        "\ufeffName,Email,Department,Job title\nDee Dee,dee@acme.test,Sales,Drummer\nRobert Builder,bob@acme.test,,\n",
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Upload and preview").click()
    rows = page.locator("table", has=page.get_by_role("columnheader", name="Action")).locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("New")
    expect(rows.nth(1)).to_contain_text("Update")
    with app.app_context():
        assert db.session.scalar(select(Member.id).where(Member.email == "dee@acme.test")) is None
    no_sideways_scroll(page)
    shot(page, f"member-import-preview-{'phone' if viewport['width'] < 900 else 'desktop'}.png")

    page.get_by_role("button", name="Confirm import").click()
    expect(page.get_by_role("status").filter(has_text="Import done")).to_contain_text(
        "Imported: 1 created, 1 updated, 0 unchanged."
    )
    no_sideways_scroll(page)
    with app.app_context():
        dee = db.session.scalar(select(Member).where(Member.email == "dee@acme.test"))
        assert dee is not None and [d.name for d in dee.departments] == ["Sales"] and dee.source_id is None
        assert db.session.scalar(select(Member.name).where(Member.email == "bob@acme.test")) == "Robert Builder"
        assert db.session.scalar(select(Member.name).where(Member.email == "cy@acme.test")) == "Cy Twombly"
    page.get_by_role("link", name="View the members").click()
    expect(page.locator("#member-results")).to_contain_text("Dee Dee")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_group_picker_adds_members_from_several_searches(page, live_server, app, org, people, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, org)
    page.goto(f"{live_server.url}/organization/groups")
    page.get_by_role("row").filter(has_text="Book club").get_by_role("link", name="Details").click()
    drawer = page.locator("#drawer")
    search = drawer.get_by_label("Add members")
    search.press_sequentially("ada", delay=30)
    drawer.get_by_role("checkbox", name=re.compile("Ada Lovelace")).check()
    search.fill("")
    search.press_sequentially("twombly", delay=30)
    expect(drawer.get_by_text("Selected (1)")).to_be_visible()
    drawer.get_by_role("checkbox", name=re.compile("Cy Twombly")).check()
    if viewport["width"] > 900:
        shot(page, "group-picker.png")
    drawer.get_by_role("button", name="Add selected").click()
    table = drawer.get_by_role("table")
    expect(table).to_contain_text("Ada Lovelace")
    expect(table).to_contain_text("Cy Twombly")
    with app.app_context():
        entries = list(db.session.scalars(select(AdminLog).where(AdminLog.event_type == "Edit user group")))
        assert [e.changes.get("members added") for e in entries] == [[None, ["ada@acme.test", "cy@acme.test"]]]
