"""Settings > Webhooks in a real Chromium (issue 16): add an endpoint, copy its secret once, watch a
delivery in the log, resend it, rotate the secret and disable the endpoint; desktop and phone.

With SCREENSHOTS_DIR set, the desktop run also saves webhooks.png, webhook-secret.png and
webhook-detail.png there, and the phone run webhook-detail-phone.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from portal.core import members, webhooks
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import WebhookEndpoint
from tests.events.receiver import Receiver, receiving

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("SCREENSHOTS_DIR", "")


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _shot(page: Page, name: str, viewport: dict[str, int], *, phone_too: bool = False) -> None:
    if SHOTS and (viewport["width"] > 1000 or phone_too):
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        if viewport["width"] <= 1000:
            name = name.replace(".png", "-phone.png")
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def _deliver(app: Any) -> int:
    """What the job worker does, run here so the test decides when."""
    with app.app_context():
        return webhooks.deliver_due()


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_add_an_endpoint_see_a_delivery_resend_it_rotate_and_disable(
    page: Page, live_server: Any, app: Any, org: Any, viewport: dict[str, int]
) -> None:
    # Every step works on a desktop and on a phone (the sidebar a menu there, the tables lists of cards).
    page.set_viewport_size(viewport)
    _sign_in(page, live_server.url, org.email, org.password)
    if viewport["width"] < 900:  # a phone: the sidebar folds away behind the Menu button
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()

    with receiving(Receiver()) as receiver:
        page.get_by_role("link", name="Add endpoint").first.click()
        expect(page.get_by_role("heading", name="Add endpoint", level=1)).to_be_visible()
        page.get_by_role("button", name="Add endpoint").click()  # no URL: refused next to the field
        expect(page.get_by_text("Enter the endpoint's URL")).to_be_visible()
        page.get_by_role("textbox", name="URL").fill(receiver.url)
        page.get_by_role("textbox", name="Description").fill("Payroll sync")
        expect(page.get_by_role("checkbox", name="member.created")).to_be_checked()  # members, preselected
        page.get_by_role("checkbox", name="group.created").check()
        page.get_by_role("button", name="Add endpoint").click()

        box = page.get_by_role("textbox", name="Signing secret")
        expect(box).to_be_visible()
        expect(page.get_by_text("shown only once")).to_be_visible()
        secret = box.input_value()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
        with app.app_context():
            endpoint = db.session.scalar(sa.select(WebhookEndpoint))
            assert endpoint.secret == secret and "group.created" in endpoint.event_types
            endpoint_id = endpoint.id
        _shot(page, "webhook-secret.png", viewport)

        with app.app_context():
            members.create_member(
                org.id, {"external_id": "ann@acme.test", "email": "ann@acme.test", "name": "Ann Lee"}, Actor.cli()
            )
            db.session.commit()
        assert _deliver(app) == 1
        [request] = receiver.requests
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "member.created"
        seq = request.seq

        page.get_by_role("link", name="Back to Webhooks").click()
        row = page.get_by_role("row", name=receiver.url)
        expect(row).to_contain_text("Enabled")
        expect(row).to_contain_text("Payroll sync")
        expect(page.get_by_text(secret)).to_have_count(0)  # never shown again
        _shot(page, "webhooks.png", viewport)

        row.get_by_role("link", name=f"Manage {receiver.url}").click()
        log = page.locator("#delivery-log")
        expect(log).to_contain_text("member.created")
        expect(log).to_contain_text("Delivered")
        expect(log.locator("tbody tr").first).to_contain_text(re.compile(r"\b200\b"))  # the status code
        expect(log).to_contain_text(" ms")
        page.get_by_role("button", name=f"Resend event {seq}").click()
        expect(page.get_by_text(f"Event {seq} is queued to be sent again.")).to_be_visible()
        expect(page.locator("#delivery-log")).to_contain_text("Queued")
        assert _deliver(app) == 0  # a resend is not a new event: the stream's cursor did not move
        assert [r.seq for r in receiver.requests] == [seq, seq]
        page.reload()
        expect(page.locator("#delivery-log").get_by_text("Delivered")).to_have_count(2)
        expect(page.locator("#delivery-log")).to_contain_text("(resend)")
        _shot(page, "webhook-detail.png", viewport, phone_too=True)

    page.get_by_role("button", name="Rotate secret").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Rotate the signing secret?")
    dialog.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_role("textbox", name="Signing secret")
    expect(rotated).to_be_visible()
    assert rotated.input_value() != secret
    expect(page.get_by_text("two signatures")).to_be_visible()

    page.get_by_role("link", name="Open endpoint").click()
    page.get_by_role("button", name="Disable endpoint").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable endpoint")).to_be_visible()
    expect(page.get_by_text("Disabled by owner@acme.test")).to_be_visible()
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id).enabled is False
