"""Add sync source in a real Chromium, walking the seed's labels (seed 1.1 steps 1-6, section 2)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.core import sync_sources
from portal.extensions import db
from portal.models import Member, SyncSource, WorkforceType
from tests.factories import make_admin

pytestmark = pytest.mark.browser


def _source(app: Any) -> SyncSource:
    with app.app_context():
        source = db.session.scalar(select(SyncSource))
        db.session.expunge(source)
        return source


def _scim_create(page: Page, url: str, token: str, user_name: str) -> int:
    """POST /Users to the SCIM URL with the token, as JumpCloud does after the admin pasted them."""
    response = page.request.post(
        f"{url}/Users",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        data=json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "displayName": "Test User",
                "userType": "Regular",
                "emails": [{"type": "work", "value": user_name, "primary": True}],
            }
        ),
    )
    return response.status


def _sign_in(page: Page, live_server: Any, email: str, password: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_add_jumpcloud_sync_source_save_and_activate_then_deactivate_seed_1_1(
    page: Page, live_server: Any, app: Any, org: Any
) -> None:
    make_admin(app, org, "it@acme.test", {"org_data_sync"})
    _sign_in(page, live_server, org.email, org.password)

    # 1. Settings > Directory Sync > Add sync source
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Directory Sync").click()
    expect(page.get_by_role("heading", name="Directory Sync")).to_be_visible()
    page.get_by_role("link", name="Add sync source").click()
    # 2. In the sync source panel, select JumpCloud.
    page.get_by_role("button", name=re.compile("^JumpCloud")).click()

    # 3. Configure access security: the token and the URL to note down, then Next.
    expect(page.get_by_role("heading", name="Configure access security")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/setup\?step=1$"))
    token = page.locator("#scim-token").input_value()
    url = page.locator("#scim-url").input_value()
    source = _source(app)
    assert url == f"{live_server.url}/scim/v2/{source.public_id}"
    assert source.status == "draft" and source.token_hash == sync_sources.hash_token(token)
    expect(page.get_by_role("button", name="Copy Token")).to_be_visible()
    expect(page.get_by_role("button", name="Copy URL")).to_be_visible()
    expect(page.get_by_role("complementary", name="Set up JumpCloud")).to_contain_text("Test User Email")
    page.get_by_role("button", name="Next").click()

    # 4. Set attributes: the rule Regular -> regular employee, then Next.
    expect(page.get_by_role("heading", name="Set attributes")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/setup\?step=2$"))
    page.get_by_label("Field value of Employee Type in JumpCloud").fill("Regular")
    page.get_by_label("Name of Workforce Type").select_option(label="regular employee")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_label("Field value of Employee Type in JumpCloud")).to_have_count(2)
    page.get_by_role("button", name="Remove rule").nth(1).click()
    expect(page.get_by_label("Field value of Employee Type in JumpCloud")).to_have_count(1)
    page.get_by_role("button", name="Next").click()

    # 5. General settings: deletion rule and notified administrators, then Next.
    expect(page.get_by_role("heading", name="General settings")).to_be_visible()
    page.get_by_label("Delete member").check()
    page.get_by_role("checkbox", name=re.compile("it@acme.test")).check()
    expect(page.get_by_role("checkbox", name="Email", exact=True)).to_be_checked()
    page.get_by_role("button", name="Next").click()

    # Back keeps what was entered.
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Delete member")).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("it@acme.test"))).to_be_checked()
    page.get_by_role("button", name="Next").click()

    # 6. Preview, then Save and Activate.
    preview = page.locator("#wizard")
    expect(preview).to_contain_text("Regular")
    expect(preview).to_contain_text("regular employee")
    expect(preview).to_contain_text("Delete member")
    expect(preview).to_contain_text("it@acme.test")
    page.get_by_role("button", name="Save and Activate").click()

    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/")
    card = page.locator("article.app-card")
    expect(card).to_contain_text("Active")
    expect(card).to_contain_text("Waiting for first request")
    source = _source(app)
    with app.app_context():
        regular = db.session.scalar(select(WorkforceType.id).where(WorkforceType.name == "regular employee"))
    assert source.status == "active" and source.deletion_rule == "delete"
    assert source.workforce_rules == [{"value": "Regular", "workforce_type_id": regular}]

    # A SCIM create with that URL and token succeeds; the card's badge sees the request arrive.
    assert _scim_create(page, url, token, "first@acme.test") == 201
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.external_id == "first@acme.test"))
        assert member.source_id == source.id and member.employee_type_id == regular
    expect(card.get_by_text("Connected")).to_be_visible(timeout=15000)

    # Deactivate makes the next SCIM request fail; Activate restores it.
    card.get_by_role("button", name="Deactivate").click()
    # It asks first, as Delete does (issue 13).
    page.get_by_role("dialog", name=re.compile("^Deactivate ")).get_by_role("button", name="Deactivate").click()
    expect(card.locator(".badge").first).to_have_text("Inactive")
    assert _scim_create(page, url, token, "second@acme.test") == 403
    card.get_by_role("button", name="Activate").click()
    expect(card.locator(".badge").first).to_have_text("Active")
    assert _scim_create(page, url, token, "second@acme.test") == 201


def test_delete_asks_for_confirmation_and_keeps_the_card_on_cancel_seed_2(
    page: Page, live_server: Any, app: Any, org: Any
) -> None:
    from portal.core.actors import Actor

    with app.app_context():
        sync_sources.create_source(org.id, "okta", Actor.cli())
        db.session.commit()
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/settings/directory-sync/")
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    expect(dialog).to_contain_text("kept")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("article.app-card")).to_have_count(1)
    assert _source(app).deleted_at is None
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No sync source yet")).to_be_visible()
    assert _source(app).deleted_at is not None


def test_refresh_token_asks_first_then_shows_the_new_token_once_seed_2(
    page: Page, live_server: Any, app: Any, org: Any
) -> None:
    from portal.core.actors import Actor

    with app.app_context():
        source, old = sync_sources.create_source(org.id, "entra", Actor.cli())
        db.session.commit()
        source_id = source.id
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/settings/directory-sync/{source_id}")
    expect(page.locator("#scim-token")).to_have_count(0)
    page.get_by_role("button", name="Refresh token").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("stops working at once")
    dialog.get_by_role("button", name="Refresh token").click()
    new = page.locator("#scim-token").input_value()
    assert new != old and _source(app).token_hash == sync_sources.hash_token(new)
    page.reload()
    expect(page.locator("#scim-token")).to_have_count(0)


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_general_settings_offer_the_identity_rule_preset_by_provider_and_keep_it_issue_18(
    page: Page, live_server: Any, app: Any, org: Any, viewport: dict[str, int]
) -> None:
    # The console is laid out for desktops (the body is at least 960px wide): on a phone the page
    # pans sideways, and the setting must still be reachable, readable and work there.
    page.set_viewport_size(viewport)
    _sign_in(page, live_server, org.email, org.password)
    page.goto(f"{live_server.url}/settings/directory-sync/new")
    page.get_by_role("button", name=re.compile("^Okta")).click()
    expect(page.get_by_role("heading", name="Configure access security")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Set attributes")).to_be_visible()
    page.get_by_role("button", name="Next").click()

    # General settings: the rule, off for Okta, with what it means and that JumpCloud needs it.
    expect(page.get_by_role("heading", name="General settings")).to_be_visible()
    rule = page.get_by_role("checkbox", name=re.compile("userName must equal the work email"))
    rule.scroll_into_view_if_needed()
    expect(rule).to_be_visible()
    expect(rule).not_to_be_checked()
    group = page.get_by_role("group", name="Identity rule")
    expect(group).to_contain_text("only userName is required and the email is optional")
    expect(group).to_contain_text("JumpCloud needs it on")
    # The setting wraps inside the form's card: nothing of it is cut off or runs out of the card.
    card, box = page.locator("form.wizard-form").bounding_box(), group.bounding_box()
    assert card is not None and box is not None
    assert card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
    # The label's text checks the box, as a label should (a thumb on a phone hits the words).
    group.get_by_text("userName must equal the work email", exact=True).click()
    expect(rule).to_be_checked()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    expect(page.locator("#wizard")).to_contain_text(re.compile(r"userName must equal the work email\s*On"))
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_role("checkbox", name=re.compile("userName must equal the work email"))).to_be_checked()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/settings/directory-sync/")
    assert _source(app).username_is_email is True
