"""Email goes through the outbox and a real worker process (issue 14 "Email delivery", issue 12 item 5).

Each test runs ``flask --app wsgi worker`` as a separate process on the test's database (SQLite
and PostgreSQL) and a SQLite queue file; the SCIM requests go through the Flask test client.
A bad token (RFC 7644 §2: 401) tells every sync administrator, so it makes one email each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.jobs import queue
from portal.jobs.tasks import deliver_due
from portal.models import Admin, Notification, OutboxMessage, SyncSource
from tests.conftest import Console
from tests.directory_support import make_source_with_token
from tests.factories import make_admin
from tests.jobs.conftest import (
    Inbox,
    JobsStorage,
    silent_smtp_server,
    smtp_server,
    use_storage,
    wait_for,
    worker,
)
from tests.servers import ROOT

pytestmark = [pytest.mark.both_databases, pytest.mark.slow]

MAIL_SUBJECT = "JumpCloud sync failed: the token is invalid"


def _bad_token(app: Any, public_id: str) -> Any:
    return app.test_client().get(f"/scim/v2/{public_id}/Users", headers={"Authorization": "Bearer wrong-token"})


def _notes(app: Any) -> dict[str, Notification]:
    """Each admin's notification (by the admin's id as text), detached."""
    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).order_by(Notification.admin_id)).all()
        for row in rows:
            db.session.expunge(row)
        return {str(row.admin_id): row for row in rows}


def _outbox(app: Any) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _page(app: Any, org: Any) -> str:
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    return console.get("/notifications/").get_data(as_text=True)


def test_a_silent_mail_server_does_not_slow_a_scim_request_and_the_mail_shows_queued(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    with silent_smtp_server() as smtp_url:
        use_storage(app, sqlite_jobs, SMTP_URL=smtp_url)
        for n in range(3):
            make_admin(app, org, f"sync{n}@acme.test", {"org_data_sync"})
        _, public_id, _ = make_source_with_token(app, org.id)
        with worker(database_url, tmp_path, sqlite_jobs, env={"SMTP_URL": smtp_url}):
            started = time.monotonic()
            response = _bad_token(app, public_id)
            elapsed = time.monotonic() - started
            # A bound, not a measure: before, each of the 4 admins' mails held the request 10 s (a 500 at 30 s).
            assert response.status_code == 401 and elapsed < 2
            assert [n.email_label for n in _notes(app).values()] == ["Email queued"] * 4
            # The worker holds the messages, waiting on the server: still nothing was emailed.
            wait_for(lambda: {m.status for m in _outbox(app)} == {"sending"}, what="the worker to claim the mail")
            assert all(n.emailed_at is None for n in _notes(app).values())
            page = _page(app, org)
    assert "Email queued" in page and "Emailed" not in page


def test_a_mail_refused_then_accepted_arrives_once_and_is_marked_emailed_only_then(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    inbox = Inbox(replies=["451 4.3.0 Try again later"])
    release = threading.Event()
    inbox.gate = (2, release)  # the second try waits at the server until the test has looked
    try:
        with smtp_server(inbox) as smtp_url:
            use_storage(app, sqlite_jobs, SMTP_URL=smtp_url, PUBLIC_BASE_URL="https://portal.example")
            _, public_id, _ = make_source_with_token(app, org.id)
            env = {"SMTP_URL": smtp_url, "MAIL_RETRY_BASE_SECONDS": "1", "PUBLIC_BASE_URL": "https://portal.example"}
            with worker(database_url, tmp_path, sqlite_jobs, env=env):
                assert _bad_token(app, public_id).status_code == 401
                wait_for(inbox.arrived.is_set, what="the second try")
                # Between the tries: refused once, queued again, not emailed, nothing received.
                [note] = _notes(app).values()
                assert (note.email_status, note.email_attempts, note.emailed_at) == ("queued", 1, None)
                assert note.email_label == "Email queued (1 try so far)"
                [message] = _outbox(app)
                assert message.status == "sending" and "451" in (message.last_error or "")
                assert inbox.messages == []
                release.set()
                wait_for(lambda: _notes(app)[str(org.admin_id)].email_status == "sent", what="the delivery")
                [note] = _notes(app).values()
                assert note.email_attempts == 2 and note.emailed_at is not None
                assert note.email_label == "Emailed"
                # The row keeps who and what, not the text (a set-password link in it would be a secret).
                assert _outbox(app)[0].payload == {"to": org.email, "subject": MAIL_SUBJECT}
                # Nothing is due any more: another drain sends nothing again.
                with app.app_context():
                    assert deliver_due(app) == 0
                page = _page(app, org)
    finally:
        release.set()
    [(rcpt, mail, _)] = inbox.messages
    assert rcpt == [org.email]
    assert mail["Subject"] == MAIL_SUBJECT
    assert "Emailed" in page


CRASH_SCRIPT = """
import os, signal, sys
from portal import create_app
from portal.jobs import queue

app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})
# The process dies right after the request's commit, before it could wake a worker.
queue.enqueue_drain = lambda: os.kill(os.getpid(), signal.SIGKILL)
response = app.test_client().get(
    f"/scim/v2/{os.environ['SOURCE_ID']}/Users", headers={"Authorization": "Bearer wrong-token"}
)
print("not killed:", response.status_code)
sys.exit(3)
"""


def test_a_process_killed_between_commit_and_enqueue_loses_no_mail(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as smtp_url:
        use_storage(app, sqlite_jobs, SMTP_URL=smtp_url)
        _, public_id, _ = make_source_with_token(app, org.id)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "JOBS_"))},
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "SMTP_URL": smtp_url,
            "JOBS_URL": sqlite_jobs.url,
            "JOBS_NAME": sqlite_jobs.name,
            "SOURCE_ID": public_id,
        }
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
        # Committed with the notification, and nothing reached the queue.
        assert [m.status for m in _outbox(app)] == ["queued"]
        with app.app_context():
            assert queue.huey_for(app).pending_count() == 0
        with worker(database_url, tmp_path, sqlite_jobs, env={"SMTP_URL": smtp_url}):
            wait_for(lambda: inbox.messages, what="the mail left behind")
            wait_for(lambda: _notes(app)[str(org.admin_id)].email_status == "sent", what="the delivery to be recorded")
    [(rcpt, _, _)] = inbox.messages
    assert rcpt == [org.email]


@pytest.mark.parametrize("hostile", ["source name", "admin email"])
def test_a_line_break_in_a_header_fails_that_mail_for_good_and_injects_nothing(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage, hostile: str
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as smtp_url:
        use_storage(app, sqlite_jobs, SMTP_URL=smtp_url)
        helper = make_admin(app, org, "helper@acme.test", {"org_data_sync"})
        source_id, public_id, _ = make_source_with_token(app, org.id)
        with app.app_context():
            # Rows written before names and addresses were checked (issue 12, item 5).
            if hostile == "source name":
                db.session.execute(
                    sa.update(SyncSource).where(SyncSource.id == source_id).values(name="Okta\r\nX-Injected: 1")
                )
            else:
                db.session.execute(
                    sa.update(Admin).where(Admin.id == helper).values(email="inj@acme.test\r\nBcc: attacker@evil.test")
                )
            db.session.commit()
        with worker(database_url, tmp_path, sqlite_jobs, env={"SMTP_URL": smtp_url}):
            # The request answers as it always does (RFC 7644 §2: 401), not a 500.
            assert _bad_token(app, public_id).status_code == 401
            wait_for(
                lambda: (rows := _outbox(app)) and all(m.status in {"sent", "failed"} for m in rows),
                what="every mail to be settled",
            )
    notes = _notes(app)
    failed = [m for m in _outbox(app) if m.status == "failed"]
    if hostile == "source name":
        assert len(failed) == 2 and inbox.messages == []
        assert {n.email_label for n in notes.values()} == {"Email failed after 1 try"}
    else:
        assert len(failed) == 1 and failed[0].notification_id == notes[str(helper)].id
        assert notes[str(helper)].email_label == "Email failed after 1 try"
        assert notes[str(org.admin_id)].email_label == "Emailed"
        [(rcpt, mail, raw)] = inbox.messages
        assert rcpt == [org.email] and mail["Bcc"] is None and b"attacker" not in raw
    # Failed for good at the first try (no retry), with a reason an operator can read.
    assert all(m.attempts == 1 and "line break" in (m.last_error or "") for m in failed)
    assert all(b"X-Injected" not in raw for _, _, raw in inbox.messages)


# ---------------------------------------------------------------- the transport (portal.infra.mail)


@pytest.mark.parametrize(
    ("field", "value"),
    [("to", "inj@acme.test\r\nBcc: attacker@evil.test"), ("subject", "Okta\r\nX-Injected: 1"), ("sender", "a@b\nX: 1")],
)
def test_the_transport_refuses_a_line_break_in_any_header_before_connecting(field: str, value: str) -> None:
    from portal.infra import mail as transport

    values = {"smtp_url": "smtp://127.0.0.1:1", "sender": "p@acme.test", "to": "a@acme.test", "subject": "S"}
    values[field] = value
    with pytest.raises(transport.InvalidHeader) as refused:
        # Port 1: had it tried to connect, this would be a ConnectionRefusedError instead.
        transport.send(transport.Mail(text="body", **values))
    assert "line break" in str(refused.value) and transport.is_permanent(refused.value)


def test_only_5xx_answers_and_bad_headers_are_permanent_failures() -> None:
    import smtplib

    from portal.infra import mail as transport

    assert not transport.is_permanent(ConnectionRefusedError())
    assert not transport.is_permanent(TimeoutError())
    assert not transport.is_permanent(smtplib.SMTPDataError(451, b"later"))
    assert transport.is_permanent(smtplib.SMTPDataError(554, b"no"))
    assert not transport.is_permanent(smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")}))
    assert transport.is_permanent(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")}))
