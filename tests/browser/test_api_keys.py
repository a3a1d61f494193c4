"""Settings > API keys in a real Chromium (issue 16): create a key, copy it once, revoke it; desktop and phone.

With SCREENSHOTS_DIR set, the runs also save api-keys.png and api-key-created.png there (-phone.png on the phone).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.core import api_keys
from portal.extensions import db
from portal.models import ApiKey

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("SCREENSHOTS_DIR", "")


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _shot(page: Page, name: str, viewport: dict[str, int]) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        if viewport["width"] < 900:
            name = name.replace(".png", "-phone.png")
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_create_a_key_see_it_once_then_revoke_it(
    page: Page, live_server: Any, app: Any, org: Any, client: Any, viewport: dict[str, int]
) -> None:
    # Every step works on a desktop and on a phone (the sidebar a menu there, the table a list of cards).
    page.set_viewport_size(viewport)
    _sign_in(page, live_server.url, org.email, org.password)
    if viewport["width"] < 900:  # a phone: the sidebar folds away behind the Menu button
        page.get_by_role("button", name="Menu").click()
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_text("No API keys yet")).to_be_visible()

    page.get_by_role("link", name="Create API key").first.click()
    expect(page.get_by_role("heading", name="Create API key", level=1)).to_be_visible()
    page.get_by_role("button", name="Create API key").click()  # nothing filled: refused next to the fields
    expect(page.get_by_text("Enter a name for the key")).to_be_visible()
    page.get_by_role("textbox", name="Name").fill("Payroll export")
    page.get_by_role("checkbox", name=re.compile("^Read members")).check()
    page.get_by_role("checkbox", name=re.compile("^Read events")).check()
    page.get_by_label("1 year").check()
    page.get_by_role("button", name="Create API key").click()

    box = page.get_by_role("textbox", name="API key")
    expect(box).to_be_visible()
    expect(page.get_by_text("shown only once")).to_be_visible()
    secret = box.input_value()
    assert re.fullmatch(r"dsp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", secret)
    with app.app_context():
        key = db.session.scalar(sa.select(ApiKey))
        assert key.key_hash == api_keys.hash_key(secret) and key.scopes == ["members:read", "events:read"]
        prefix = key.prefix
    assert client.get("/api/v1/members", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    _shot(page, "api-key-created.png", viewport)

    page.get_by_role("link", name="Back to API keys").click()
    row = page.get_by_role("row", name=re.compile("Payroll export"))
    expect(row).to_contain_text(prefix)
    expect(row).to_contain_text("Active")
    expect(page.get_by_text(secret)).to_have_count(0)  # never shown again
    _shot(page, "api-keys.png", viewport)

    row.get_by_role("button", name="Revoke Payroll export").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Revoke the key Payroll export?")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Payroll export"))).to_contain_text("Revoked")
    expect(page.get_by_role("button", name="Revoke Payroll export")).to_have_count(0)
    response = client.get("/api/v1/members", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
