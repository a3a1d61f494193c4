"""The job queue (issue 14 "The queue"): both Huey storages with a real worker process, the outbox's claims,
retries and leases on both databases, daily jobs once a day, JSON logs with the job id, and `make run`'s
launcher stopping both processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import job_marks, outbox
from portal.extensions import db
from portal.infra import mail as transport, metrics
from portal.jobs import queue, tasks
from portal.models import JobMark, Notification, OutboxMessage, utcnow
from tests.directory_support import make_source_with_token
from tests.jobs.conftest import Inbox, JobsStorage, smtp_server, use_storage, wait_for, worker
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.both_databases


def _bad_token(app: Any, public_id: str) -> Any:
    return app.test_client().get(f"/scim/v2/{public_id}/Users", headers={"Authorization": "Bearer wrong-token"})


def _stats(app: Any) -> dict[str, Any]:
    with app.app_context():
        return queue.stats()


def _statuses(app: Any) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(OutboxMessage.status).order_by(OutboxMessage.id)))


def _add_emails(app: Any, n: int, **values: Any) -> list[int]:
    with app.app_context():
        ids = [outbox.add_email(f"to{i}@acme.test", f"Subject {i}", "text").id for i in range(n)]
        if values:
            db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))
        db.session.commit()
        return ids


# ---------------------------------------------------------------- a real worker on each storage


@pytest.mark.slow
def test_a_worker_on_each_queue_storage_delivers_a_request_s_mail_and_its_heartbeat_reaches_the_web(
    app: Any, org: Any, database_url: str, tmp_path: Path, any_jobs: JobsStorage
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as smtp_url:
        use_storage(app, any_jobs, SMTP_URL=smtp_url)
        _, public_id, _ = make_source_with_token(app, org.id)
        assert _stats(app)["heartbeat_at"] is None
        with worker(database_url, tmp_path, any_jobs, env={"SMTP_URL": smtp_url}):
            wait_for(lambda: _stats(app)["heartbeat_at"], what="the worker's first heartbeat")
            assert _bad_token(app, public_id).status_code == 401
            wait_for(lambda: inbox.messages, what="the mail")
            wait_for(lambda: _statuses(app) == ["sent"], what="the delivery to be recorded")
            stats = wait_for(lambda: (s := _stats(app))["depth"] == 0 and s, what="an empty queue")
    assert stats["oldest_age_seconds"] is None
    assert isinstance(stats["heartbeat_at"], datetime)
    [(rcpt, _, _)] = inbox.messages
    assert rcpt == [org.email]


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "lowered_by"), [(None, 10), ("3", 3), ("0", 0)])
def test_the_worker_yields_the_cpu_to_the_web_processes_by_jobs_nice(
    database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage, setting: str | None, lowered_by: int
) -> None:
    """JOBS_NICE (default 10) lowers the worker's CPU priority, so deliveries never slow an identity
    provider's requests on a shared host; 0 leaves it as the web processes'."""
    env = {"JOBS_NICE": setting} if setting is not None else {}
    with worker(database_url, tmp_path, sqlite_jobs, env=env) as running:
        wait_for(lambda: "worker started" in running.logs(), what="the worker's start line")
        niceness = os.getpriority(os.PRIO_PROCESS, running.process.pid)
    assert niceness == min(os.getpriority(os.PRIO_PROCESS, 0) + lowered_by, 19)
    assert f"niceness {niceness}" in running.logs()


@pytest.mark.slow
def test_the_worker_logs_json_lines_with_the_job_id_like_the_web(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    with smtp_server(Inbox()) as smtp_url:
        use_storage(app, sqlite_jobs, SMTP_URL=smtp_url)
        _, public_id, _ = make_source_with_token(app, org.id)
        with worker(database_url, tmp_path, sqlite_jobs, env={"SMTP_URL": smtp_url}) as running:
            assert _bad_token(app, public_id).status_code == 401
            wait_for(lambda: "delivered" in running.logs(), what="the delivery's log line")
            lines = [line for line in running.logs().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    [delivered] = [r for r in records if r["message"].startswith("email ") and "delivered" in r["message"]]
    assert delivered["logger"] == "portal.jobs.tasks" and delivered["level"] == "INFO"
    # The wake-up after the request's commit, or the every-minute drain if it came first.
    assert delivered["task"].startswith("drain_outbox") and re.fullmatch(r"[0-9a-f-]{36}", delivered["job_id"])
    # The web's format: the same keys (a job has no request: "-").
    assert {"time", "level", "logger", "message", "request_id"} <= set(delivered)
    # Huey's own line about that job carries the same id.
    assert any(r["logger"] == "huey" and r.get("job_id") == delivered["job_id"] for r in records)


@pytest.mark.slow
def test_a_message_left_sending_by_a_dead_worker_is_sent_again_once_its_lease_is_over(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as smtp_url:
        use_storage(app, sqlite_jobs, SMTP_URL=smtp_url)
        now = utcnow()
        [expired] = _add_emails(app, 1, status="sending", attempts=1, next_attempt_at=now - timedelta(seconds=1))
        [leased] = _add_emails(app, 1, status="sending", attempts=1, next_attempt_at=now + timedelta(hours=1))
        with worker(database_url, tmp_path, sqlite_jobs, env={"SMTP_URL": smtp_url}):
            wait_for(lambda: _statuses(app)[0] == "sent", what="the abandoned message")
    with app.app_context():
        rows = {m.id: m for m in db.session.scalars(sa.select(OutboxMessage))}
    assert (rows[expired].status, rows[expired].attempts) == ("sent", 2)
    # Another worker's lease still runs: that message is left alone.
    assert (rows[leased].status, rows[leased].attempts) == ("sending", 1)
    assert [rcpt for rcpt, _, _ in inbox.messages] == [["to0@acme.test"]]


@pytest.mark.slow
def test_run_all_starts_the_web_server_and_the_worker_and_ctrl_c_stops_both(
    app: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "JOBS_"))},
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "JOBS_URL": sqlite_jobs.url,
        "JOBS_NAME": sqlite_jobs.name,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "run-all.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "bin/run-all"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def web_up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(web_up, what="the web server")
        wait_for(lambda: _stats(app)["heartbeat_at"], what="the worker's heartbeat")
        pids = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log_path.read_text())}
        assert set(pids) == {"web", "worker"}
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert launcher.wait(60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "run-all: stopped" in log_path.read_text()


# ---------------------------------------------------------------- the outbox's rules, in the test process


def test_stats_count_queued_tasks_and_due_messages_and_age_the_oldest(app: Any, sqlite_jobs: JobsStorage) -> None:
    assert _stats(app) == {"depth": 0, "oldest_age_seconds": None, "heartbeat_at": None}
    # One commit with two messages: two due rows, and one wake-up task waiting in the queue (no worker runs).
    with app.app_context():
        outbox.add_email("a@acme.test", "One", "text")
        outbox.add_email("b@acme.test", "Two", "text")
        db.session.commit()
    _add_emails(app, 1, next_attempt_at=utcnow() + timedelta(minutes=5))  # not due yet: not counted
    stats = _stats(app)
    assert stats["depth"] == 2 + 2 and stats["oldest_age_seconds"] >= 0
    with app.app_context():
        job_marks.beat(datetime(2031, 1, 2, 3, 4, 5))
        db.session.commit()
    assert _stats(app)["heartbeat_at"] == datetime(2031, 1, 2, 3, 4, 5)


def test_a_rolled_back_request_leaves_no_mail_and_wakes_no_worker(app: Any, sqlite_jobs: JobsStorage) -> None:
    with app.app_context():
        outbox.add_email("a@acme.test", "One", "text")
        db.session.rollback()
        assert queue.huey_for(app).pending_count() == 0
    assert _statuses(app) == []


def test_concurrent_workers_never_claim_one_message_twice(app: Any) -> None:
    ids = _add_emails(app, 60)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work() -> None:
        mine: list[int] = []
        try:
            with app.app_context():
                start.wait()
                while batch := outbox.claim_due(limit=5):
                    db.session.commit()
                    mine += [m.id for m in batch]
        except BaseException as error:  # reported below: a thread's failure must fail the test
            errors.append(error)
        claimed.append(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    every = [i for mine in claimed for i in mine]
    assert sorted(every) == ids  # each message once: none twice, none left
    assert set(_statuses(app)) == {"sending"}


def test_a_failed_try_waits_30_s_doubling_capped_at_an_hour_and_gives_up_after_24_hours(app: Any) -> None:
    created = datetime(2031, 1, 1, 0, 0, 0)
    with app.app_context():
        [message_id] = [outbox.add_email("a@acme.test", "One", "text").id]
        db.session.execute(sa.update(OutboxMessage).values(created_at=created, next_attempt_at=created))
        db.session.commit()
        waits = []
        now = created
        while True:
            [message] = outbox.claim_due(now=now)
            next_at = outbox.record_failure(message, "SMTPDataError: (451, b'later')", now=now)
            db.session.commit()
            if next_at is None:
                break
            waits.append((next_at - now).total_seconds())
            now = next_at
        row = db.session.get(OutboxMessage, message_id)
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert set(waits[8:]) == {3600}
    # Tried until 24 hours after it was queued, then failed for good.
    assert now <= created + timedelta(hours=24) < now + timedelta(hours=1)
    assert (row.status, row.attempts) == ("failed", len(waits) + 1)
    assert row.last_error == "SMTPDataError: (451, b'later')"


def test_a_permanent_refusal_fails_at_once_and_the_notification_says_so(app: Any, org: Any, monkeypatch) -> None:
    def refuse(mail: transport.Mail) -> None:
        import smtplib

        raise smtplib.SMTPRecipientsRefused({mail.to: (550, b"5.1.1 No such user")})

    monkeypatch.setattr(transport, "send", refuse)
    app.config["SMTP_URL"] = "smtp://127.0.0.1:25"
    failures = metrics.MAIL_FAILURES._value.get()
    with app.app_context():
        note = Notification(
            org_id=org.id, admin_id=org.admin_id, kind="sync_failure", group_key="k", title="T", count=1
        )
        db.session.add(note)
        db.session.flush()
        outbox.add_email(org.email, "T", "text", org_id=org.id, notification=note)
        db.session.commit()
        updated = note.updated_at
        assert tasks.deliver_due(app) == 0
        note = db.session.get(Notification, note.id, populate_existing=True)
        assert (note.email_label, note.emailed_at) == ("Email failed after 1 try", None)
        # Delivery is not activity: the notification keeps its place in the list.
        assert note.updated_at == updated
    assert metrics.MAIL_FAILURES._value.get() == failures + 1  # portal_mail_delivery_failures_total


def test_a_daily_job_runs_once_a_day_whichever_worker_asks_and_again_after_a_failed_run(app: Any) -> None:
    runs: list[datetime] = []
    morning = datetime(2031, 3, 4, 1, 5)
    with app.app_context():
        assert tasks.run_daily("prune", lambda now: runs.append(now) or 1, now=morning) == 1
        assert tasks.run_daily("prune", lambda now: runs.append(now) or 1, now=morning + timedelta(hours=5)) is None
        assert runs == [morning]

        def broken(now: datetime) -> int:
            raise RuntimeError("database gone")

        next_day = morning + timedelta(days=1)
        with pytest.raises(RuntimeError):
            tasks.run_daily("prune", broken, now=next_day)
        # The failed run gave its claim back: the next hourly try runs it.
        assert tasks.run_daily("prune", lambda now: runs.append(now) or 2, now=next_day + timedelta(hours=1)) == 2
        assert db.session.get(JobMark, "prune").at == next_day + timedelta(hours=1)


def test_the_scheduler_drains_every_minute_and_offers_the_daily_jobs_every_hour(app: Any, monkeypatch) -> None:
    from portal.core import retention, token_expiry

    with app.app_context():
        jobs = queue.jobs_for(app)
    periodic = {task.name: task for task in jobs.huey._registry.periodic_tasks}
    assert {"drain_outbox_every_minute", "heartbeat_every_minute", "warn_expiring_tokens", "prune"} <= set(periodic)
    minute = datetime(2031, 3, 4, 7, 33)
    assert periodic["drain_outbox_every_minute"].validate_datetime(minute)
    assert periodic["warn_expiring_tokens"].validate_datetime(minute.replace(minute=5))
    assert not periodic["warn_expiring_tokens"].validate_datetime(minute)
    # The daily tasks call the token-expiry warnings and retention, once a day.
    called: list[str] = []
    monkeypatch.setattr(token_expiry, "warn_expiring_tokens", lambda now=None: called.append("tokens") or 3)
    monkeypatch.setattr(retention, "prune", lambda now=None: called.append("prune") or {"sync_logs": 0})
    assert jobs.tasks.warn_expiring_tokens.call_local() == 3
    assert jobs.tasks.prune.call_local() == {"sync_logs": 0, "outbox": 0}
    assert jobs.tasks.warn_expiring_tokens.call_local() is None  # ran today already
    assert called == ["tokens", "prune"]
