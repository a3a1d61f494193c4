"""Screenshots of the Organization pages in headless Chromium, with a believable organization.

Run: ``.venv/bin/python docs/screenshots/organization_screenshots.py``
Writes members.png, member-details.png, departments.png and fields.png beside this file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from portal import create_app  # noqa: E402
from portal.core import departments, fields, groups, members, organizations, sync_sources, workforce  # noqa: E402
from portal.core.actors import Actor  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Member, SyncLog, WorkforceType  # noqa: E402

OUT = Path(__file__).resolve().parent
PASSWORD = "screenshot password long enough"
PEOPLE = [
    ("Amelia Chen", "Engineering", "Staff Engineer"),
    ("Noah Patel", "Engineering", "Software Engineer"),
    ("Sofia Rossi", "Sales", "Account Executive"),
    ("Liam O'Brien", "Sales", "Sales Manager"),
    ("Maya Johnson", "Marketing", "Product Marketing Manager"),
    ("Ethan Kim", "Engineering", "Engineering Manager"),
    ("Olivia Martin", "Finance", "Controller"),
    ("Lucas Müller", "Support", "Support Engineer"),
    ("Isabella Garcia", "People Operations", "HR Business Partner"),
    ("Mason Wright", "Engineering", "Site Reliability Engineer"),
    ("Ava Thompson", "Sales", "Solutions Consultant"),
    ("James Nguyen", "Support", "Support Lead"),
    ("Charlotte Dubois", "Marketing", "Content Strategist"),
    ("Benjamin Cohen", "Finance", "Financial Analyst"),
    ("Harper Lee", "Engineering", "Security Engineer"),
    ("Elijah Brooks", "Sales", "Sales Development Rep"),
    ("Mia Andersson", "Engineering", "Product Designer"),
    ("Henry Walker", "Support", "Support Engineer"),
    ("Evelyn Scott", "People Operations", "Recruiter"),
    ("Alexander Ivanov", "Engineering", "Data Engineer"),
]


def seed(app) -> None:
    with app.app_context():
        org = organizations.create_organization("Northwind Labs", "admin@northwind.test", PASSWORD, Actor.cli())
        db.session.flush()
        admin_actor = Actor.cli()
        source, _token = sync_sources.create_source(org.id, "jumpcloud", admin_actor, name="JumpCloud")
        sync_sources.set_active(org.id, source.id, True, admin_actor)
        actor = Actor.for_source(source)
        regular = db.session.scalar(
            select(WorkforceType).where(WorkforceType.org_id == org.id, WorkforceType.name == "regular employee")
        )
        contractor = db.session.scalar(
            select(WorkforceType).where(WorkforceType.org_id == org.id, WorkforceType.name == "contractor")
        )
        for i, (name, dept_name, title_name) in enumerate(PEOPLE):
            first, last = name.split(" ", 1)
            email = f"{first.lower()}.{last.lower().replace(' ', '').replace(chr(39), '')}@northwind.test"
            dept, dept_created = departments.find_or_create_department(org.id, dept_name, actor.source_id)
            title, title_created = workforce.find_or_create_job_title(org.id, title_name, actor)
            member = Member(
                org_id=org.id,
                external_id=email,
                email=email,
                name=name,
                first_name=first,
                last_name=last,
                employee_id=f"NW-{1040 + i}",
                status="inactive" if i in (7, 15) else "active",
                source_id=source.id,
                custom_fields={},
                work_country="US" if i % 3 else "DE",
                employee_type=contractor if i % 7 == 3 else regular,
                mobile=f"+1 415 555 01{i:02}",
            )
            member.departments = [dept]
            member.job_title = title
            db.session.add(member)
            db.session.flush()
            associated = [
                {"type": "department", "name": dept.name, "created": dept_created},
                {"type": "job_title", "name": title.name, "created": title_created},
            ]
            db.session.add(
                SyncLog(
                    org_id=org.id,
                    source_id=source.id,
                    operation="create",
                    object_type="member",
                    object_id=member.public_id,
                    object_name=email,
                    result="success",
                    status_code=201,
                    associated=associated,
                    changes={},
                    notes=[],
                    method="POST",
                    path="/Users",
                    request_body={},
                    duration_ms=14,
                )
            )
            if i % 6 == 0:
                db.session.add(
                    SyncLog(
                        org_id=org.id,
                        source_id=source.id,
                        operation="update",
                        object_type="member",
                        object_id=member.public_id,
                        object_name=email,
                        result="success",
                        status_code=200,
                        changes={"title": ["Engineer", title_name]},
                        associated=[],
                        notes=[],
                        method="PATCH",
                        path=f"/Users/{member.public_id}",
                        request_body={},
                        duration_ms=9,
                    )
                )
        for _ in range(2):
            db.session.add(
                SyncLog(
                    org_id=org.id,
                    source_id=source.id,
                    operation="deactivate",
                    object_type="member",
                    object_id=None,
                    object_name=None,
                    result="success",
                    status_code=200,
                    changes={},
                    associated=[],
                    notes=[],
                    method="PATCH",
                    path="/Users",
                    request_body={},
                )
            )
        eng = departments.find_or_create_department(org.id, "Engineering", actor.source_id)[0]
        for sub in ("Platform", "Mobile"):
            departments.create_department(org.id, sub, Actor.cli(), parent_id=eng.id)
        for name, email in (
            ("Grace Okafor", "grace.okafor@northwind.test"),
            ("Daniel Reyes", "daniel.reyes@northwind.test"),
        ):
            members.create_member(
                org.id, {"external_id": email, "email": email, "name": name, "job_title": "Office Manager"}, Actor.cli()
            )
        groups.create_group(org.id, "All engineers", Actor.cli(), "Everyone in Engineering")
        fields.create_field(org.id, "T-shirt size", "option", Actor.cli(), options=["S", "M", "L", "XL"])
        fields.create_field(org.id, "Start date", "date", Actor.cli())
        db.session.commit()


def main() -> None:
    folder = tempfile.mkdtemp(prefix="portal-shots-")
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/shots.db",
                "SECRET_KEY": "shots",
                "RATELIMIT_ENABLED": False,
            }
        )
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        seed(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
            page.goto(f"{url}/login")
            page.get_by_label("Email").fill("admin@northwind.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{url}/organization/members")
            page.screenshot(path=str(OUT / "members.png"), full_page=False)
            page.get_by_role("row").filter(has_text="Amelia Chen").get_by_role("link", name="Details").click()
            page.locator("#drawer").get_by_role("heading", name="Amelia Chen").wait_for()
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "member-details.png"), full_page=False)
            page.goto(f"{url}/organization/members/departments")
            page.screenshot(path=str(OUT / "departments.png"), full_page=False)
            page.goto(f"{url}/organization/fields")
            page.get_by_role("row").filter(has=page.get_by_text("First name", exact=True)).get_by_role(
                "link", name="Details"
            ).click()
            page.locator("#drawer").get_by_role("heading", name="First name").wait_for()
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "fields.png"), full_page=False)
            browser.close()
        server.shutdown()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
