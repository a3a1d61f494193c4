"""Profile page: an administrator changes their own password (issue 7), and the password policy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.core import administrators
from portal.extensions import db
from portal.models import Admin, AdminLog
from tests.conftest import Console
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

NEW = "a brand new long passphrase"


def _change(console: Console, current: str, new: str = NEW, confirm: str | None = None, htmx: bool = False):
    return console.post(
        "/account",
        {"current_password": current, "new_password": new, "confirm_password": new if confirm is None else confirm},
        htmx=htmx,
    )


def test_header_links_to_the_profile_page_issue_7(console: Console) -> None:
    page = console.get("/account")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'href="/account"' in body
    assert "Change password" in body and "Primary administrator" in body


def test_change_own_password_needs_the_current_one_issue_7(app, console: Console, org) -> None:
    response = _change(console, "not my password at all")
    assert response.status_code == 422
    assert "The current password is incorrect." in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(AdminLog).where(AdminLog.event_type == "Reset password")
            )
            == 0
        )


def test_change_own_password_signs_in_with_the_new_one_and_logs_it_issue_7(app, client, console: Console, org) -> None:
    response = _change(console, org.password, htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Your password was changed." in body and "<html" not in body  # htmx gets the fragment
    # This session stays signed in; the old password no longer works, the new one does.
    assert console.get("/account").status_code == 200
    fresh = Console(app.test_client())
    assert fresh.login(org.email, org.password).status_code == 401
    assert fresh.login(org.email, NEW).status_code == 302
    with app.app_context():
        entry = db.session.scalar(sa.select(AdminLog).where(AdminLog.event_type == "Reset password"))
        assert entry.summary == "Changed their own password" and entry.target_name == org.email
        assert org.password not in str(entry.changes) and NEW not in str(entry.changes)


def test_change_own_password_ends_other_sessions_issue_7(app, console: Console, org) -> None:
    other = Console(app.test_client())
    assert other.login(org.email, org.password).status_code == 302
    assert _change(console, org.password).status_code == 200
    assert other.get("/account").status_code == 302  # sent to the sign-in page


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short pass", None, "Use at least 12 characters."),
        ("1qaz2wsx3edc", None, "commonly used passwords"),
        ("Password1234", None, "commonly used passwords"),
        ("iloveyou iloveyou", None, "commonly used passwords"),
        (NEW, "something else entirely", "The passwords do not match."),
    ],
)
def test_password_policy_messages_issue_7(
    app, console: Console, org, new: str, confirm: str | None, message: str
) -> None:
    response = _change(console, org.password, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        admin = db.session.get(Admin, org.admin_id)
        assert administrators.verify_password(admin.password_hash, org.password)


def test_passwords_are_stored_with_scrypt_issue_7(app, org) -> None:
    with app.app_context():
        stored = db.session.get(Admin, org.admin_id).password_hash
    assert stored.startswith("scrypt:") and org.password not in stored


def test_change_password_without_csrf_token_is_refused_issue_7(app, console: Console, org) -> None:
    response = console.client.post(
        "/account", data={"current_password": org.password, "new_password": NEW, "confirm_password": NEW}
    )
    assert response.status_code == 400
    with app.app_context():
        assert administrators.verify_password(db.session.get(Admin, org.admin_id).password_hash, org.password)


def test_profile_shows_permissions_of_a_plain_admin_issue_7(app, client, org) -> None:
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    c = Console(client)
    assert c.login("sync@acme.test", "another long password").status_code == 302
    body = c.get("/account").get_data(as_text=True)
    assert "Organization data synchronization" in body and "Administrator log" not in body


@pytest.mark.parametrize(
    "args",
    [
        ["org", "create", "Tiny", "--admin-email", "a@tiny.test", "--admin-password", "short"],
        ["org", "create", "Tiny", "--admin-email", "a@tiny.test", "--admin-password", "123456789123"],
    ],
)
def test_cli_org_create_applies_the_password_policy_issue_7(app, runner, args: list[str]) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "Use at least 12 characters." in result.output or "commonly used" in result.output


def test_cli_admin_create_applies_the_password_policy_issue_7(app, runner, org) -> None:
    result = runner.invoke(
        args=["admin", "create", "--org", org.name, "--email", "x@acme.test", "--password", "password"]
    )
    assert result.exit_code == 1 and "Use at least 12 characters." in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(Admin).where(Admin.email_norm == "x@acme.test")) is None
