"""Screenshot of Settings > Administrators for the docs (run with SCREENSHOTS_DIR=docs/screenshots).

Not a behaviour test: it fills the page with a realistic team and saves
``administrators.png``, so the picture always shows the current page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from portal.extensions import db
from portal.models import Admin, utcnow
from tests.factories import make_admin

OUT = os.environ.get("SCREENSHOTS_DIR", "")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not OUT, reason="set SCREENSHOTS_DIR to write the Administrators screenshot"),
]

TEAM = [
    ("priya.raman@acme.test", "Priya Raman", {"org_data_sync", "admin_log", "directory"}, 0.4),
    ("marcus.chen@acme.test", "Marcus Chen", {"org_data_sync"}, 26),
    ("it-ops@acme.test", "IT Operations", {"org_data_sync", "directory"}, 3),
    ("sofia.alvarez@acme.test", "Sofia Alvarez", {"admin_log"}, None),
    ("jonas.weber@acme.test", "Jonas Weber", {"directory"}, 410),
]


def test_administrators_screenshot(page: Page, live_server: Any, app: Any, org: Any) -> None:
    from datetime import timedelta

    ids = [make_admin(app, org, email, perms) for email, _, perms, _ in TEAM]
    with app.app_context():
        owner = db.session.get(Admin, org.admin_id)
        owner.name = "Alex Morgan"
        for admin_id, (_, name, _, hours_ago) in zip(ids, TEAM, strict=True):
            admin = db.session.get(Admin, admin_id)
            admin.name = name
            admin.last_login_at = utcnow() - timedelta(hours=hours_ago) if hours_ago is not None else None
        db.session.get(Admin, ids[-1]).active = False
        db.session.commit()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(org.email)
    page.get_by_label("Password").fill(org.password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/settings/administrators/")
    Path(OUT).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(OUT) / "administrators.png"), full_page=True)
    if os.environ.get("SCREENSHOTS_ALL"):
        for name, url in [
            ("administrators-detail.png", f"/settings/administrators/{ids[1]}"),
            ("administrators-add.png", "/settings/administrators/new"),
            ("administrators-transfer.png", "/settings/administrators/transfer"),
            ("account.png", "/account"),
        ]:
            page.goto(live_server.url + url)
            page.screenshot(path=str(Path(OUT) / name), full_page=True)
        page.goto(f"{live_server.url}/settings/administrators/{ids[2]}")
        page.get_by_role("button", name="Reset password").click()
        page.get_by_role("textbox", name="Initial password", exact=True).wait_for()
        page.screenshot(path=str(Path(OUT) / "administrators-initial-password.png"), full_page=True)
        from portal.core import administrators
        from portal.core.actors import Actor

        with app.app_context():
            token = administrators.reset_password(org.id, ids[1], Actor.cli(), delivery="link").token
            db.session.commit()
        page.goto(f"{live_server.url}/set-password/{token}")
        page.screenshot(path=str(Path(OUT) / "set-password.png"), full_page=True)
