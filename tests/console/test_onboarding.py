"""Onboarding and recovery (issue 13, point 6).

The home page's getting-started checklist ticked from real state; the wizard's defaults, draft reuse and
entries kept on the draft (not in the session cookie); ``flask admin reset-password``; "Forgot password?";
the forced change of an initial password; administrators' names and emails edited; ``make run``'s
credentials printed last.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import administrators, sync_sources
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin, AdminLog, OutboxMessage, PasswordResetToken, SyncSource, utcnow
from tests.conftest import Console
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[2]
BASE = "/settings/directory-sync"


def _signed_in(app: Any, email: str, password: str = "another long password") -> Console:
    console = Console(app.test_client())
    assert console.login(email, password).status_code == 302
    return console


def _sources(app: Any) -> list[SyncSource]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(SyncSource).order_by(SyncSource.id)))
        db.session.expunge_all()
        return rows


def _admin(app: Any, email: str) -> Admin:
    with app.app_context():
        admin = db.session.scalar(sa.select(Admin).where(Admin.email == email))
        db.session.expunge_all()
        return admin


def _log(app: Any, event_type: str) -> list[AdminLog]:
    with app.app_context():
        rows = list(
            db.session.scalars(sa.select(AdminLog).where(AdminLog.event_type == event_type).order_by(AdminLog.id))
        )
        db.session.expunge_all()
        return rows


def _steps(html: str) -> dict[str, bool]:
    """The checklist's steps as the page shows them: label -> done."""
    return {
        label.strip(): "is-done" in classes
        for classes, label in re.findall(
            r'<li class="checklist-step([^"]*)">.*?<span class="checklist-label">([^<]+)<', html, re.S
        )
    }


# ---------------------------------------------------------------- the getting-started checklist


def test_the_empty_home_page_shows_the_checklist_with_a_link_to_each_step(app: Any, org: Any, console: Console) -> None:
    home = console.get("/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert _steps(html) == {
        "Add a sync source": False,
        "Activate it": False,
        "First request received": False,
        "Invite administrators": False,
    }
    assert 'href="/settings/directory-sync/new">Add sync source<' in html
    assert 'href="/settings/administrators/new">Add administrator<' in html
    assert "0 of 4 steps done" in html


def test_each_step_is_ticked_from_the_real_state(app: Any, org: Any, console: Console) -> None:
    console.post(f"{BASE}/new", {"provider": "jumpcloud"})
    (draft,) = _sources(app)
    html = console.get("/").get_data(as_text=True)
    # A draft is not a source yet: its step links to where the setup goes on.
    assert _steps(html)["Add a sync source"] is False
    assert f'href="{BASE}/{draft.id}/setup?step=1">Continue setup<' in html

    with app.app_context():
        sync_sources.set_active(org.id, draft.id, False, Actor.cli())  # the wizard's Save
        db.session.commit()
    html = console.get("/").get_data(as_text=True)
    assert _steps(html)["Add a sync source"] is True and _steps(html)["Activate it"] is False
    assert f'href="{BASE}/{draft.id}">Open the sync source<' in html

    console.post(f"{BASE}/{draft.id}/activate")
    with app.app_context():
        db.session.get(SyncSource, draft.id).last_success_at = utcnow()  # what a successful SCIM request notes
        db.session.commit()
    make_admin(app, org, "it@acme.test", {"org_data_sync"})
    # Every step done: the home page goes back to the first area of the navigation.
    done = console.get("/")
    assert done.status_code == 302 and done.headers["Location"] == "/organization/members"


def test_first_request_is_ticked_by_a_real_scim_request(app: Any, org: Any, console: Console) -> None:
    from tests.directory_support import make_source_with_token

    source_id, public_id, token = make_source_with_token(app, org.id)
    assert _steps(console.get("/").get_data(as_text=True))["First request received"] is False
    response = app.test_client().get(f"/scim/v2/{public_id}/Users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    steps = _steps(console.get("/").get_data(as_text=True))
    assert steps["Add a sync source"] and steps["Activate it"] and steps["First request received"]


def test_an_admin_who_cannot_act_on_the_checklist_lands_on_their_area(app: Any, org: Any) -> None:
    make_admin(app, org, "dir@acme.test", {"directory"})
    home = _signed_in(app, "dir@acme.test").get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/organization/members"


def test_a_sync_admin_sees_the_steps_but_no_link_to_add_administrators(app: Any, org: Any) -> None:
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    html = _signed_in(app, "sync@acme.test").get("/").get_data(as_text=True)
    assert _steps(html)["Invite administrators"] is True  # two administrators exist now
    assert "/settings/administrators/new" not in html


# ---------------------------------------------------------------- the wizard


def test_the_admin_who_sets_up_a_source_is_ticked_for_its_failure_notifications(
    app: Any, org: Any, console: Console
) -> None:
    console.post(f"{BASE}/new", {"provider": "okta"})
    (source,) = _sources(app)
    assert source.notified_admin_ids == [org.admin_id]
    step3 = console.get(f"{BASE}/{source.id}/setup?step=3").get_data(as_text=True)
    box = re.search(rf'<input[^>]*name="notified_admin_id"[^>]*value="{org.admin_id}"[^>]*>', step3)
    assert box is not None and "checked" in box.group(0)


def test_choosing_the_provider_again_goes_on_with_the_draft(app: Any, org: Any, console: Console) -> None:
    first = console.post(f"{BASE}/new", {"provider": "jumpcloud"}, htmx=True)
    assert first.status_code == 200 and "scim-token" in first.get_data(as_text=True)
    (draft,) = _sources(app)
    again = console.post(f"{BASE}/new", {"provider": "jumpcloud"}, htmx=True)
    assert again.status_code == 204 and again.headers["HX-Redirect"] == f"{BASE}/{draft.id}/setup?step=1"
    assert (
        console.post(f"{BASE}/new", {"provider": "jumpcloud"})
        .headers["Location"]
        .endswith(f"{BASE}/{draft.id}/setup?step=1")
    )
    assert [s.id for s in _sources(app)] == [draft.id]
    assert len(_log(app, "Add sync source")) == 1
    # Another provider is another source; another administrator's draft is theirs.
    console.post(f"{BASE}/new", {"provider": "okta"})
    make_admin(app, org, "it@acme.test", {"org_data_sync"})
    _signed_in(app, "it@acme.test").post(f"{BASE}/new", {"provider": "jumpcloud"})
    assert [s.provider for s in _sources(app)] == ["jumpcloud", "okta", "jumpcloud"]


def test_wizard_entries_persist_on_the_draft_and_continue_in_another_browser(
    app: Any, org: Any, console: Console
) -> None:
    console.post(f"{BASE}/new", {"provider": "jumpcloud"})
    (draft,) = _sources(app)
    console.post(f"{BASE}/{draft.id}/setup", {"step": "1", "nav": "next"})
    console.post(f"{BASE}/{draft.id}/setup", {"step": "2", "nav": "next", "rule_value": "", "rule_type": ""})
    console.post(
        f"{BASE}/{draft.id}/setup",
        {"step": "3", "nav": "next", "name": "JumpCloud EU", "deletion_rule": "delete", "match_attribute": "email"},
    )
    (kept,) = _sources(app)
    assert kept.wizard_state["name"] == "JumpCloud EU" and kept.wizard_state["deletion_rule"] == "delete"
    # Nothing reached the source's settings before Save, and the cookie holds no wizard.
    assert (kept.name, kept.deletion_rule) == ("JumpCloud", "suspend")
    with console.client.session_transaction() as session:
        assert "sync_wizard" not in session
    # Another browser: the same administrator signs in afresh and continues where they were.
    elsewhere = _signed_in(app, org.email, org.password)
    preview = elsewhere.get(f"{BASE}/{draft.id}/setup?step=4").get_data(as_text=True)
    assert "JumpCloud EU" in preview and "Delete member" in preview
    saved = elsewhere.post(f"{BASE}/{draft.id}/setup", {"step": "4", "nav": "save"})
    assert saved.status_code == 303
    (done,) = _sources(app)
    assert (done.name, done.deletion_rule, done.status, done.wizard_state) == (
        "JumpCloud EU",
        "delete",
        "inactive",
        None,
    )


# ---------------------------------------------------------------- flask admin reset-password


def test_cli_reset_password_prints_an_initial_password_that_must_be_changed(
    app: Any, org: Any, runner: Any, client: Any
) -> None:
    # The primary administrator forgot: only the server's operator can let them back in.
    result = runner.invoke(args=["admin", "reset-password", "--org", org.name, "--email", org.email.upper()])
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1].strip()
    assert _admin(app, org.email).must_change_password is True
    assert Console(app.test_client()).login(org.email, org.password).status_code == 401
    signed_in = Console(client)
    assert signed_in.login(org.email, password).status_code == 302
    # Every console page sends to the change form until the password is the admin's own.
    for url in ("/", "/organization/members", "/settings/directory-sync/", "/account"):
        assert signed_in.get(url).headers["Location"] == "/account/password", url
    htmx = signed_in.get("/organization/members", htmx=True)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/account/password"
    form = signed_in.get("/account/password").get_data(as_text=True)
    assert "Choose your own password" in form
    chosen = "my own long passphrase"
    changed = signed_in.post(
        "/account/password", {"current_password": password, "new_password": chosen, "confirm_password": chosen}
    )
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    assert signed_in.get("/organization/members").status_code == 200
    assert _admin(app, org.email).must_change_password is False
    [reset, own] = _log(app, "Reset password")
    assert reset.actor == "CLI" and password not in str(reset.changes) + str(reset.summary)
    assert own.summary == "Changed their own password"


def test_cli_reset_password_prints_a_one_time_link(app: Any, org: Any, runner: Any, client: Any) -> None:
    result = runner.invoke(
        args=[
            "admin",
            "reset-password",
            "--org",
            org.name,
            "--email",
            org.email,
            "--link",
            "--base-url",
            "https://portal.example.com",
        ]
    )
    assert result.exit_code == 0, result.output
    url = re.search(r"https://portal\.example\.com(/set-password/\S+)", result.output)
    assert url is not None and "works once, for 48 hours" in result.output
    page = client.get(url.group(1))
    assert page.status_code == 200 and "Set your password" in page.get_data(as_text=True)
    assert _admin(app, org.email).must_change_password is False


def test_cli_reset_password_refuses_an_unknown_admin_or_organization(app: Any, org: Any, runner: Any) -> None:
    for args in (["--org", org.name, "--email", "nobody@acme.test"], ["--org", "Nope", "--email", org.email]):
        result = runner.invoke(args=["admin", "reset-password", *args])
        assert result.exit_code == 1 and "Error:" in result.output
    link = runner.invoke(args=["admin", "reset-password", "--org", org.name, "--email", org.email, "--link"])
    assert link.exit_code == 1 and "PUBLIC_BASE_URL" in link.output
    assert _log(app, "Reset password") == []


def test_an_initial_password_from_the_console_must_be_changed_too(app: Any, org: Any, console: Console) -> None:
    response = console.post(
        "/settings/administrators/new",
        {"name": "Sam", "email": "sam@acme.test", "permissions": ["directory"], "delivery": "password"},
    )
    password = re.search(r'id="initial-password" value="([^"]+)"', response.get_data(as_text=True))
    assert password is not None
    assert _admin(app, "sam@acme.test").must_change_password is True
    sam = _signed_in(app, "sam@acme.test", password.group(1))
    assert sam.get("/organization/members").headers["Location"] == "/account/password"
    # A set-password link instead: the admin chooses their own password, nothing to force.
    console.post(
        "/settings/administrators/new",
        {"name": "Mo", "email": "mo@acme.test", "permissions": ["directory"], "delivery": "link"},
    )
    assert _admin(app, "mo@acme.test").must_change_password is False


# ---------------------------------------------------------------- Forgot password?


def _without_csrf(html: str) -> str:
    return re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]+"', r'\1=""', html)


def test_forgot_password_emails_a_link_and_answers_the_same_for_any_address(app: Any, org: Any, client: Any) -> None:
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    login = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password">Forgot password?<' in login
    visitor = Console(client)
    visitor.get("/forgot-password")
    known = visitor.post("/forgot-password", {"email": org.email})
    unknown = visitor.post("/forgot-password", {"email": "nobody@acme.test"})
    assert known.status_code == unknown.status_code == 200
    # The pages may differ only in the address typed and the CSRF token, whose signature carries the second.
    assert _without_csrf(known.get_data(as_text=True)).replace(org.email, "X") == _without_csrf(
        unknown.get_data(as_text=True)
    ).replace("nobody@acme.test", "X")
    with app.app_context():
        [mail] = db.session.scalars(sa.select(OutboxMessage)).all()
        assert mail.payload["to"] == org.email and "/set-password/" in mail.payload["text"]
        assert db.session.scalar(sa.select(sa.func.count(PasswordResetToken.id))) == 1
    [entry] = _log(app, "Reset password")
    assert entry.summary == "Set-password link requested from the sign-in page"
    link = re.search(r"(/set-password/\S+)", mail.payload["text"])
    assert link is not None and client.get(link.group(1)).status_code == 200


def test_forgot_password_without_smtp_says_to_ask_the_primary_and_sends_nothing(
    app: Any, org: Any, client: Any
) -> None:
    app.config["SMTP_URL"] = ""
    visitor = Console(client)
    page = visitor.get("/forgot-password").get_data(as_text=True)
    assert "Ask your primary administrator" in page and 'name="email"' not in page
    assert visitor.post("/forgot-password", {"email": org.email}).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PasswordResetToken.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


def test_forgot_password_is_rate_limited(app: Any, org: Any, client: Any) -> None:
    from portal.extensions import limiter

    app.config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", SMTP_URL="smtp://127.0.0.1:2525")
    limiter.init_app(app)
    visitor = Console(client)
    visitor.get("/forgot-password")
    codes = [visitor.post("/forgot-password", {"email": f"n{i}@acme.test"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]


# ---------------------------------------------------------------- names and emails of administrators


def test_the_primary_edits_an_administrators_name_and_email(app: Any, org: Any, console: Console) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"directory"})
    saved = console.post(
        f"/settings/administrators/{helper}/details", {"name": "Helen Helper", "email": "helen@acme.test"}, htmx=True
    )
    assert saved.status_code == 200 and "Details saved." in saved.get_data(as_text=True)
    assert _admin(app, "helen@acme.test").name == "Helen Helper"
    [entry] = _log(app, "Edit administrator")
    assert entry.changes == {"name": [None, "Helen Helper"], "email": ["helper@acme.test", "helen@acme.test"]}
    assert _signed_in(app, "helen@acme.test").get("/organization/members").status_code == 200
    # Every error at once, and an address another administrator holds is refused.
    refused = console.post(f"/settings/administrators/{helper}/details", {"name": "", "email": "helen@acme"}, htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="admin-name-error"' in html and 'id="admin-email-error"' in html
    taken = console.post(f"/settings/administrators/{helper}/details", {"name": "Helen", "email": org.email}, htmx=True)
    assert taken.status_code == 422 and "already exists" in taken.get_data(as_text=True)
    assert _admin(app, "helen@acme.test").name == "Helen Helper"


def test_an_administrator_edits_their_own_name_on_the_profile_page(app: Any, org: Any) -> None:
    make_admin(app, org, "helper@acme.test", {"directory"})
    helper = _signed_in(app, "helper@acme.test")
    profile = helper.get("/account").get_data(as_text=True)
    assert 'id="profile-name"' in profile and 'name="email"' not in profile
    assert helper.post("/account/name", {"name": "Helen"}).status_code == 302
    assert "Helen" in helper.get("/account").get_data(as_text=True)
    assert _admin(app, "helper@acme.test").name == "Helen"
    [entry] = _log(app, "Edit administrator")
    assert entry.actor == "helper@acme.test" and entry.changes == {"name": [None, "Helen"]}
    refused = helper.post("/account/name", {"name": "x" * 201})
    assert refused.status_code == 422 and "at most 200 characters" in refused.get_data(as_text=True)
    # Others' administrators page stays the primary's.
    assert (
        helper.post(
            f"/settings/administrators/{org.admin_id}/details", {"name": "x", "email": "x@acme.test"}
        ).status_code
        == 403
    )


# ---------------------------------------------------------------- make run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_run_all_prints_the_demo_credentials_last_and_where_to_sign_in(
    app: Any, database_url: str, tmp_path: Path, runner: Any
) -> None:
    credentials = tmp_path / "demo-credentials.txt"
    made = runner.invoke(args=["demo", "--credentials-file", str(credentials)])
    assert made.exit_code == 0 and "password" not in made.output
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "JOBS_"))},
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "JOBS_URL": f"sqlite:///{tmp_path}/jobs.db",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
        "DEMO_CREDENTIALS_FILE": str(credentials),
    }
    log_path = tmp_path / "run-all.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "bin/run-all"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        import time

        deadline = time.monotonic() + 60  # a bound on a hang, not a timing assertion
        while "Sign in at" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        text = log_path.read_text()
    finally:
        launcher.send_signal(2)
        launcher.wait(60)
    assert "Sign in at" in text, text
    before, after = text.split("email:    admin@demo.example", 1)
    # The server's start-up lines come first; the credentials and where to sign in come last.
    assert "Listening at" in before and f"Sign in at http://127.0.0.1:{port}/login" in after
    password = re.search(r"password: (\S+)", after)
    assert password is not None and not credentials.exists()
    with app.app_context():
        admin = db.session.scalar(sa.select(Admin).where(Admin.email == "admin@demo.example"))
        assert administrators.verify_password(admin.password_hash, password.group(1))
