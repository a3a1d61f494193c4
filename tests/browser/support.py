"""What the browser tests of the console share: the two viewports, signing in, screenshots, no sideways scroll."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

#: where ``shot`` saves pages (``SCREENSHOTS_DIR=docs/screenshots`` for the README's); unset: nowhere
SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")
#: each test of a flow runs on a desktop and on a phone
VIEWPORTS = [
    pytest.param({"width": 1280, "height": 800}, id="desktop"),
    pytest.param({"width": 390, "height": 844}, id="phone"),
]


def shot(page: Page, name: str) -> None:
    """Save the whole page as ``name`` under SCREENSHOTS_DIR, once its animations have ended."""
    if SCREENSHOTS_DIR:
        Path(SCREENSHOTS_DIR).mkdir(parents=True, exist_ok=True)
        page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
        page.screenshot(path=str(Path(SCREENSHOTS_DIR) / name), full_page=True)


def sign_in(page: Page, live_server: Any, org: Any) -> None:
    """Sign in as the organization's admin through the login page."""
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def no_sideways_scroll(page: Page) -> None:
    """The page fits the viewport's width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways to {width}px"


def htmx_settled(page: Page) -> None:
    """Wait until htmx has no request in flight and has set up what it swapped in.

    A swap replaces elements; until htmx has processed the new ones, a change on them reaches no listener.
    A person never acts within those milliseconds, a test does.
    """
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)
