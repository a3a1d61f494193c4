"""Administrator notifications of sync failures: routing, grouping, the bell, email (issue 5, seed 1.1 step 5)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from portal.core import notifications
from portal.extensions import db
from portal.models import Notification, SyncSource
from tests.directory_support import make_source
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases


def _fail(
    app: Any, source_id: int, kind: str, detail: str = "userName is already taken", *, commit: bool = True
) -> None:
    with app.app_context():
        notifications.sync_failure(db.session.get(SyncSource, source_id), kind, detail)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()


def _recipients(app: Any) -> dict[int, list[tuple[str, int]]]:
    with app.app_context():
        rows = db.session.scalars(select(Notification).order_by(Notification.id))
        found: dict[int, list[tuple[str, int]]] = {}
        for n in rows:
            found.setdefault(n.admin_id, []).append((n.kind, n.count))
        return found


@pytest.fixture
def admins(app: Any, org: Any) -> dict[str, int]:
    return {
        "chosen": make_admin(app, org, "chosen@acme.test", {"directory"}),
        "sync": make_admin(app, org, "sync@acme.test", {"org_data_sync"}),
        "other": make_admin(app, org, "other@acme.test", {"admin_log"}),
    }


def test_sync_failure_notifies_only_the_chosen_admins_seed_1_1_step_5(app, org, admins):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "uniqueness")
    assert _recipients(app) == {admins["chosen"]: [("sync_failure", 1)]}


def test_expired_token_notifies_every_sync_admin_whatever_the_setting_seed_1_1_step_5(app, org, admins):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "token_expired", "the bearer token expired")
    assert _recipients(app) == {org.admin_id: [("token_expired", 1)], admins["sync"]: [("token_expired", 1)]}


def test_invalid_token_notifies_every_sync_admin_even_when_nobody_is_chosen(app, org, admins):
    source_id = make_source(app, org.id, notified_admin_ids=[])
    _fail(app, source_id, "token_invalid")
    assert set(_recipients(app)) == {org.admin_id, admins["sync"]}


def test_deactivated_chosen_admin_is_not_notified(app, org, admins):
    from portal.models import Admin

    with app.app_context():
        db.session.get(Admin, admins["chosen"]).active = False
        db.session.commit()
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"], admins["other"]])
    _fail(app, source_id, "invalidValue")
    assert set(_recipients(app)) == {admins["other"]}


def test_repeated_failures_fold_into_one_notification_per_source_kind_and_hour(app, org, admins, monkeypatch):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    for _ in range(3):
        _fail(app, source_id, "uniqueness")
    _fail(app, source_id, "invalidValue")
    assert _recipients(app) == {admins["chosen"]: [("sync_failure", 3), ("sync_failure", 1)]}

    later = datetime(2031, 1, 1, 9, 0)
    monkeypatch.setattr(notifications, "utcnow", lambda: later)
    _fail(app, source_id, "uniqueness")
    assert _recipients(app)[admins["chosen"]] == [("sync_failure", 3), ("sync_failure", 1), ("sync_failure", 1)]


def test_two_sources_failing_alike_make_two_notifications(app, org, admins):
    first = make_source(app, org.id, name="JumpCloud", notified_admin_ids=[admins["chosen"]])
    second = make_source(app, org.id, name="Okta", provider="okta", notified_admin_ids=[admins["chosen"]])
    _fail(app, first, "uniqueness")
    _fail(app, second, "uniqueness")
    assert _recipients(app) == {admins["chosen"]: [("sync_failure", 1), ("sync_failure", 1)]}


def test_bell_shows_unread_count_and_list_shows_the_folded_count(app, org, console):
    source_id = make_source(app, org.id, notified_admin_ids=[org.admin_id])
    for _ in range(3):
        _fail(app, source_id, "uniqueness")
    _fail(app, source_id, "token_expired")

    page = console.get("/organization/members").get_data(as_text=True)
    assert 'aria-label="Notifications, 2 unread"' in page
    assert '<span class="bell-count" data-testid="bell-count">2</span>' in page

    listing = console.get("/notifications/").get_data(as_text=True)
    assert "JumpCloud sync failed: a value is already used by another member" in listing
    assert "×3" in listing
    assert "JumpCloud sync failed: the token has expired" in listing


def test_a_new_failure_after_reading_makes_the_notification_unread_again(app, org, console):
    source_id = make_source(app, org.id, notified_admin_ids=[org.admin_id])
    _fail(app, source_id, "uniqueness")
    assert console.post("/notifications/read").status_code == 302
    assert 'aria-label="Notifications"' in console.get("/notifications/").get_data(as_text=True)
    _fail(app, source_id, "uniqueness")
    assert 'aria-label="Notifications, 1 unread"' in console.get("/notifications/").get_data(as_text=True)


def test_mark_all_read_by_htmx_refreshes_the_bell(app, org, console):
    source_id = make_source(app, org.id, notified_admin_ids=[org.admin_id])
    _fail(app, source_id, "uniqueness")
    response = console.post("/notifications/read", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "notifications-changed"
    assert 'id="notification-list"' in response.get_data(as_text=True)
    assert "bell-count" not in console.get("/notifications/bell", htmx=True).get_data(as_text=True)


def test_opening_a_notification_marks_it_read_and_goes_to_the_sync_log(app, org, console):
    source_id = make_source(app, org.id, notified_admin_ids=[org.admin_id])
    _fail(app, source_id, "uniqueness")
    with app.app_context():
        note_id = db.session.scalar(select(Notification.id))
    response = console.post(f"/notifications/{note_id}/open")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/settings/directory-sync/{source_id}/sync-log")
    assert _read(app, note_id)


def test_another_admins_notification_cannot_be_opened(app, org, console):
    other = make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    source_id = make_source(app, org.id, notified_admin_ids=[other])
    _fail(app, source_id, "uniqueness")
    with app.app_context():
        note_id = db.session.scalar(select(Notification.id))
    assert console.post(f"/notifications/{note_id}/open").status_code == 404
    assert not _read(app, note_id)


def _read(app: Any, note_id: int) -> bool:
    with app.app_context():
        return db.session.get(Notification, note_id).read_at is not None


# ---------------------------------------------------------------- email


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"

    def wait(self, n: int) -> list[Any]:
        # The server thread may still be handing the message over.
        for _ in range(100):
            if len(self.messages) >= n:
                break
            time.sleep(0.02)
        return self.messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deliver(app: Any) -> int:
    """What the worker does with the outbox (tests/jobs runs a real worker process): send what is due."""
    from portal.jobs.tasks import deliver_due

    with app.app_context():
        return deliver_due(app)


@pytest.fixture
def inbox(app: Any) -> Iterator[_Inbox]:
    """A local SMTP server (aiosmtpd) on a free port, configured as the portal's SMTP_URL."""
    handler = _Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    app.config["PUBLIC_BASE_URL"] = "https://portal.example"
    yield handler
    controller.stop()


def test_sync_failure_is_emailed_when_smtp_is_configured(app, org, admins, inbox):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "uniqueness", "userName ada@acme.test is already taken")
    assert _deliver(app) == 1
    ((rcpt, message),) = inbox.wait(1)
    assert rcpt == ["chosen@acme.test"]
    assert message["Subject"] == "JumpCloud sync failed: a value is already used by another member"
    body = message.get_payload()
    assert "userName ada@acme.test is already taken" in body
    assert f"https://portal.example/settings/directory-sync/{source_id}/sync-log" in body


def test_token_failure_email_goes_to_every_sync_admin(app, org, admins, inbox):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "token_expired")
    _deliver(app)
    recipients = sorted(r[0] for r, _ in inbox.wait(2))
    assert recipients == ["owner@acme.test", "sync@acme.test"]


def test_repeats_within_the_hour_send_no_more_email(app, org, admins, inbox):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    for _ in range(3):
        _fail(app, source_id, "uniqueness")
    assert _deliver(app) == 1
    time.sleep(0.2)
    assert len(inbox.wait(1)) == 1


def test_no_email_when_the_transaction_rolls_back(app, org, admins, inbox):
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "uniqueness", commit=False)
    _fail(app, source_id, "invalidValue")
    assert _deliver(app) == 1
    ((rcpt, message),) = inbox.wait(1)
    assert message["Subject"] == "JumpCloud sync failed: a value was refused"


def test_mail_server_down_does_not_fail_the_request_and_the_notification_says_queued(app, org, admins, caplog):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{_free_port()}"
    source_id = make_source(app, org.id, notified_admin_ids=[admins["chosen"]])
    _fail(app, source_id, "uniqueness")
    assert _recipients(app) == {admins["chosen"]: [("sync_failure", 1)]}
    assert _deliver(app) == 0
    with app.app_context():
        note = db.session.scalar(select(Notification))
        # Tried once, refused (nobody listens): queued for another try, never marked emailed.
        assert (note.email_label, note.emailed_at) == ("Email queued (1 try so far)", None)
    assert "not delivered: ConnectionRefusedError; next try at" in caplog.text
