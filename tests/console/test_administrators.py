"""Settings > Administrators (issue 7): who may configure the sync and read the admin log, managed in the console.

The seed gates each step by role ("Primary administrators and administrators with Organization
data synchronization permissions"); these tests hold the rules that make those roles real.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import admin_log
from portal.extensions import db
from portal.models import Admin, AdminLog, PasswordResetToken, utcnow
from tests.conftest import Console
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases

BASE = "/settings/administrators"
PASSWORD = "another long password"
SYNC_AREA = "/settings/directory-sync/"
LOG_AREA = "/compliance/audit-log/admin"


def _signed_in(app: Any, email: str, password: str = PASSWORD) -> Console:
    console = Console(app.test_client())
    assert console.login(email, password).status_code == 302
    return console


def _choose_password(console: Console, initial: str) -> None:
    """An initial password must be changed first (issue 13): every page sends there until it is."""
    assert console.get(SYNC_AREA).headers["Location"] == "/account/password"
    chosen = "a password of my very own"
    form = {"current_password": initial, "new_password": chosen, "confirm_password": chosen}
    assert console.post("/account/password", form).status_code == 302


def _log(app: Any, event_type: str) -> list[AdminLog]:
    with app.app_context():
        rows = list(
            db.session.scalars(sa.select(AdminLog).where(AdminLog.event_type == event_type).order_by(AdminLog.id))
        )
        db.session.expunge_all()
        return rows


def _admin(app: Any, admin_id: int) -> Admin:
    with app.app_context():
        admin = db.session.get(Admin, admin_id)
        db.session.expunge(admin)
        return admin


def _shown_password(html: str) -> str:
    match = re.search(r'id="initial-password" value="([^"]+)"', html)
    assert match, "the initial password is shown in a copy field"
    return match.group(1)


# ---------------------------------------------------------------- who sees the page


def test_only_the_primary_sees_administrators_others_get_403_and_no_nav_link_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "all@acme.test", {"org_data_sync", "admin_log", "directory"})
    assert ">Administrators</a>" in console.get(SYNC_AREA).get_data(as_text=True)
    assert console.get(f"{BASE}/").status_code == 200
    other = _signed_in(app, "all@acme.test")
    assert ">Administrators</a>" not in other.get(SYNC_AREA).get_data(as_text=True)
    for url in [f"{BASE}/", f"{BASE}/new", f"{BASE}/{helper}", f"{BASE}/transfer"]:
        assert other.get(url).status_code == 403, url
    for url in [
        f"{BASE}/new",
        f"{BASE}/{org.admin_id}/permissions",
        f"{BASE}/{org.admin_id}/deactivate",
        f"{BASE}/{org.admin_id}/reset-password",
        f"{BASE}/transfer",
    ]:
        assert other.post(url, {"permissions": "admin_log"}).status_code == 403, url
    assert _log(app, "Edit administrator permissions") == []


def test_list_shows_name_email_role_permissions_status_and_last_sign_in_issue_7(app, console, org) -> None:
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    body = console.get(f"{BASE}/").get_data(as_text=True)
    for text in [
        "owner@acme.test",
        "Primary administrator",
        "Every permission",
        "sync@acme.test",
        "Organization data synchronization",
        "Active",
        "Never",
        " UTC</time>",
        "2 administrators",
    ]:
        assert text in body, text
    assert "Administrator log</span>" not in body  # sync@ holds only Organization data synchronization


def test_another_organizations_administrator_is_not_found_issue_7(app, console) -> None:
    other = make_org(app, "Globex", "owner@globex.test")
    assert console.get(f"{BASE}/{other.admin_id}").status_code == 404
    assert console.post(f"{BASE}/{other.admin_id}/deactivate").status_code == 404
    assert _admin(app, other.admin_id).active


# ---------------------------------------------------------------- add administrator


def test_add_administrator_shows_the_initial_password_once_and_logs_it_issue_7(app, console, org) -> None:
    response = console.post(
        f"{BASE}/new",
        {"name": "Sam Sync", "email": "sam@acme.test", "permissions": ["org_data_sync"], "delivery": "password"},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    password = _shown_password(body)
    assert "shown only once" in body
    assert response.headers["Cache-Control"] == "no-store"
    sam = _signed_in(app, "sam@acme.test", password)
    _choose_password(sam, password)
    assert sam.get(SYNC_AREA).status_code == 200 and sam.get(LOG_AREA).status_code == 403
    [primary, entry] = _log(app, "Add administrator")
    assert primary.target_name == org.email  # written by create_organization
    assert entry.actor == org.email and entry.target_name == "sam@acme.test"
    assert entry.category == "Settings > Administrators"
    assert entry.changes["permissions"] == [None, ["Organization data synchronization"]]
    assert password not in str(entry.changes) + str(entry.summary)
    # The page never shows it again.
    assert password not in console.get(f"{BASE}/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("values", "field_message"),
    [
        ({"name": "", "email": "x@acme.test"}, "Enter a name"),
        ({"name": "X", "email": "not-an-email"}, "Enter a valid email address"),
        ({"name": "X", "email": "OWNER@acme.test"}, "An administrator with this email already exists"),
        ({"name": "X", "email": "x@acme.test", "permissions": ["root"]}, "Unknown permission"),
    ],
)
def test_add_administrator_refuses_bad_input_with_422_next_to_the_field_issue_7(
    app, console, org, values, field_message
) -> None:
    response = console.post(f"{BASE}/new", {"delivery": "password", **values}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(
        r'class="field-error"[^<]*(<svg.*?</svg>)?<span>' + re.escape(field_message), body, re.S
    ) or re.search(r'class="field-error">' + re.escape(field_message), body), body
    assert "<html" not in body  # the form fragment, for htmx to swap
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Admin)) == 1
    assert [entry.target_name for entry in _log(app, "Add administrator")] == [org.email]  # the primary's only


def test_add_administrator_with_a_link_writes_it_to_the_server_log_without_smtp_issue_7(
    app, client, console, org, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.core.administrators"):
        response = console.post(
            f"{BASE}/new", {"name": "Lee", "email": "lee@acme.test", "permissions": ["admin_log"], "delivery": "link"}
        )
    assert response.status_code == 200
    assert "is in the server log" in response.get_data(as_text=True)
    match = re.search(r"http://localhost(/set-password/[\w-]+)", caplog.text)
    assert match, caplog.text
    link = match.group(1)
    with app.app_context():
        token = db.session.scalar(sa.select(PasswordResetToken))
        assert link.rsplit("/", 1)[1] not in token.token_hash  # stored as a hash only
    # The link sets a password once; the password policy applies there too.
    page = Console(app.test_client())
    assert page.get(link).status_code == 200
    weak = page.post(link, {"new_password": "password", "confirm_password": "password"})
    assert weak.status_code == 422 and "Use at least 12 characters." in weak.get_data(as_text=True)
    done = page.post(link, {"new_password": "lee picked this one", "confirm_password": "lee picked this one"})
    assert done.status_code == 200 and "Your password is set" in done.get_data(as_text=True)
    assert page.get(link).status_code == 410
    assert (
        page.post(link, {"new_password": "another try at it", "confirm_password": "another try at it"}).status_code
        == 410
    )
    lee = _signed_in(app, "lee@acme.test", "lee picked this one")
    assert lee.get(LOG_AREA).status_code == 200
    assert [e.summary for e in _log(app, "Reset password")] == ["Password set with a set-password link"]


def test_set_password_link_expires_issue_7(app, console, org, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.core.administrators"):
        console.post(f"{BASE}/new", {"name": "Kim", "email": "kim@acme.test", "delivery": "link"})
    link = re.search(r"(/set-password/[\w-]+)", caplog.text).group(1)
    with app.app_context():
        db.session.execute(sa.update(PasswordResetToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    response = Console(app.test_client()).get(link)
    assert response.status_code == 410 and "This link no longer works" in response.get_data(as_text=True)


def test_deactivation_ends_an_unused_set_password_link_issue_7(app, console, org, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="portal.core.administrators"):
        console.post(f"{BASE}/new", {"name": "Kim", "email": "kim@acme.test", "delivery": "link"})
    link = re.search(r"(/set-password/[\w-]+)", caplog.text).group(1)
    with app.app_context():
        kim = db.session.scalar(sa.select(Admin.id).where(Admin.email_norm == "kim@acme.test"))
    console.post(f"{BASE}/{kim}/deactivate")
    console.post(f"{BASE}/{kim}/reactivate")
    assert Console(app.test_client()).get(link).status_code == 410


def test_set_password_link_is_emailed_after_commit_when_smtp_is_configured_issue_7(
    app, console, org, monkeypatch
) -> None:
    from portal.infra import mail as transport
    from portal.jobs.tasks import deliver_due

    sent: list[Any] = []
    monkeypatch.setattr(transport, "send", sent.append)
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    response = console.post(f"{BASE}/new", {"name": "Mo", "email": "mo@acme.test", "delivery": "link"})
    assert "was emailed to mo@acme.test" in response.get_data(as_text=True)
    # The link waits in the outbox until the worker sends it (tests/jobs runs a real worker).
    assert sent == []
    with app.app_context():
        assert deliver_due(app) == 1
    [mail] = sent
    assert mail.to == "mo@acme.test" and "/set-password/" in mail.text


# ---------------------------------------------------------------- permissions take effect at the next request


def test_removed_permission_closes_the_area_at_the_next_request_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"org_data_sync", "admin_log"})
    other = _signed_in(app, "helper@acme.test")
    assert other.get(SYNC_AREA).status_code == 200
    response = console.post(f"{BASE}/{helper}/permissions", {"permissions": ["admin_log"]}, htmx=True)
    assert response.status_code == 200 and "Permissions saved" in response.get_data(as_text=True)
    # The session already open: the next request is refused and the navigation hides the area.
    assert other.get(SYNC_AREA).status_code == 403
    page = other.get(LOG_AREA)
    assert page.status_code == 200 and ">Directory Sync</a>" not in page.get_data(as_text=True)
    [entry] = _log(app, "Edit administrator permissions")
    assert entry.changes == {
        "permissions": [["Organization data synchronization", "Administrator log"], ["Administrator log"]]
    }
    # Granting opens it again, also at the next request.
    console.post(f"{BASE}/{helper}/permissions", {"permissions": ["admin_log", "directory"]})
    assert other.get("/organization/members").status_code == 200


def test_the_primary_and_oneself_cannot_be_edited_or_deactivated_issue_7(app, console, org) -> None:
    for action in ["permissions", "deactivate"]:
        response = console.post(f"{BASE}/{org.admin_id}/{action}", {"permissions": []})
        assert response.status_code == 422, action
        assert "Transfer the primary role first" in response.get_data(as_text=True)
    admin = _admin(app, org.admin_id)
    assert admin.active and admin.is_primary
    assert _log(app, "Deactivate administrator") == []


# ---------------------------------------------------------------- deactivate and reactivate


def test_deactivated_admin_session_ends_and_sign_in_is_refused_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"org_data_sync"})
    other = _signed_in(app, "helper@acme.test")
    assert other.get(SYNC_AREA).status_code == 200
    response = console.post(f"{BASE}/{helper}/deactivate")
    assert response.status_code == 200 and "Administrator deactivated" in response.get_data(as_text=True)
    ended = other.get(SYNC_AREA)
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]
    assert Console(app.test_client()).login("helper@acme.test", PASSWORD).status_code == 401
    assert "Inactive" in console.get(f"{BASE}/").get_data(as_text=True)
    [entry] = _log(app, "Deactivate administrator")
    assert entry.changes == {"status": ["Active", "Inactive"]} and entry.target_name == "helper@acme.test"

    console.post(f"{BASE}/{helper}/reactivate")
    assert _signed_in(app, "helper@acme.test").get(SYNC_AREA).status_code == 200
    assert _log(app, "Reactivate administrator")[0].changes == {"status": ["Inactive", "Active"]}


# ---------------------------------------------------------------- reset password


def test_reset_password_replaces_it_ends_sessions_and_logs_no_secret_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"admin_log"})
    other = _signed_in(app, "helper@acme.test")
    response = console.post(f"{BASE}/{helper}/reset-password", {"delivery": "password"})
    assert response.status_code == 200
    password = _shown_password(response.get_data(as_text=True))
    assert other.get(LOG_AREA).status_code == 302  # the open session ended
    assert Console(app.test_client()).login("helper@acme.test", PASSWORD).status_code == 401
    helper_again = _signed_in(app, "helper@acme.test", password)
    _choose_password(helper_again, password)
    assert helper_again.get(LOG_AREA).status_code == 200
    [entry, changed] = _log(app, "Reset password")
    assert entry.summary == "New initial password shown once" and password not in str(entry.changes)
    assert changed.summary == "Changed their own password"


# ---------------------------------------------------------------- transfer primary administrator


def _primaries(app: Any, org_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Admin.email).where(Admin.org_id == org_id, Admin.role == "primary")))


def test_transfer_leaves_exactly_one_primary_and_the_old_one_keeps_every_permission_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "next@acme.test", set())
    assert "next@acme.test" in console.get(f"{BASE}/transfer").get_data(as_text=True)
    response = console.post(f"{BASE}/transfer", {"admin_id": helper, "password": org.password})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert "is now the primary administrator" in console.get("/account").get_data(as_text=True)
    assert _primaries(app, org.id) == ["next@acme.test"]
    old = _admin(app, org.admin_id)
    assert old.role == "admin" and old.perm_org_data_sync and old.perm_admin_log and old.perm_directory
    # Roles are read at each request: the old primary lost the page, the new one has it.
    assert console.get(f"{BASE}/").status_code == 403
    assert console.get(SYNC_AREA).status_code == 200
    assert _signed_in(app, "next@acme.test").get(f"{BASE}/").status_code == 200
    [entry] = _log(app, "Transfer primary administrator")
    assert entry.changes == {"primary administrator": ["owner@acme.test", "next@acme.test"]}


@pytest.mark.parametrize("case", ["wrong password", "inactive", "nobody"])
def test_transfer_is_refused_without_a_valid_confirmation_issue_7(app, console, org, case) -> None:
    helper = make_admin(app, org, "next@acme.test", set())
    if case == "inactive":
        console.post(f"{BASE}/{helper}/deactivate")
    data = {
        "admin_id": "" if case == "nobody" else helper,
        "password": "not the password" if case == "wrong password" else org.password,
    }
    response = console.post(f"{BASE}/transfer", data)
    assert response.status_code == 422
    assert _primaries(app, org.id) == [org.email]
    assert _log(app, "Transfer primary administrator") == []


def test_two_transfers_at_once_still_leave_exactly_one_primary_issue_7(app, org) -> None:
    import threading

    from portal.core import administrators
    from portal.core.actors import Actor

    targets = [make_admin(app, org, f"next{i}@acme.test", set()) for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def transfer(target: int) -> None:
        with app.app_context():
            actor = Actor.for_admin(db.session.get(Admin, org.admin_id))
            barrier.wait()
            try:
                administrators.transfer_primary(org.id, target, actor, password=org.password)
                db.session.commit()
                outcomes.append("done")
            except Exception as exc:  # the loser is refused (Forbidden) or finds the database locked (SQLite)
                db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=transfer, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("done") == 1, outcomes
    assert len(_primaries(app, org.id)) == 1
    assert len(_log(app, "Transfer primary administrator")) == 1


def test_the_database_refuses_a_second_primary_issue_7(app, org) -> None:
    from sqlalchemy.exc import IntegrityError

    helper = make_admin(app, org, "next@acme.test", set())
    with app.app_context():
        db.session.get(Admin, helper).role = "primary"
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert _primaries(app, org.id) == [org.email]


# ---------------------------------------------------------------- CSRF and the admin log filter


@pytest.mark.parametrize("path", ["new", "{id}/permissions", "{id}/deactivate", "{id}/reset-password", "transfer"])
def test_administrator_changes_without_csrf_token_are_refused_issue_7(app, console, org, path) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"admin_log"})
    logged = len(_all_log(app))
    url = f"{BASE}/{path.format(id=helper)}"
    response = console.client.post(
        url,
        data={
            "name": "X",
            "email": "x@acme.test",
            "permissions": [],
            "admin_id": helper,
            "password": org.password,
            "delivery": "password",
        },
    )
    assert response.status_code == 400
    helper_row = _admin(app, helper)
    assert helper_row.active and helper_row.perm_admin_log and helper_row.role == "admin"
    assert len(_all_log(app)) == logged


def _all_log(app: Any) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AdminLog.id)))


def test_administrator_events_are_filterable_in_the_admin_log_issue_7(app, console, org) -> None:
    helper = make_admin(app, org, "helper@acme.test", {"admin_log"})
    console.post(f"{BASE}/{helper}/permissions", {"permissions": ["directory"]})
    console.post(f"{BASE}/{helper}/deactivate")
    with app.app_context():
        now = utcnow()
        rows = db.session.scalars(
            admin_log.query(
                org.id,
                start=now - timedelta(hours=1),
                end=now + timedelta(hours=1),
                event_types=["Deactivate administrator"],
            )
        ).all()
        assert [r.target_name for r in rows] == ["helper@acme.test"]
