"""Webhooks deliver every change event, in order, signed per Standard Webhooks (issue 16).

The promise test runs ``flask --app wsgi worker`` as a real process on the test's database, kills it
with SIGKILL while a delivery is in flight, starts another, and checks that a local receiver got
every event at least once, in order, each with a signature ``standardwebhooks`` verifies. The other
tests run the worker's delivery in the test process (``webhooks.deliver_due``) with a fake clock
where days must pass.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from portal.core import events, webhooks
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import AdminLog, Notification, WebhookDelivery, WebhookEndpoint, utcnow
from tests.conftest import Console
from tests.events.receiver import Receiver, receiving
from tests.factories import make_admin
from tests.jobs.conftest import JobsStorage, use_storage, wait_for, worker
from tests.scim.conftest import Scim, add_source

pytestmark = pytest.mark.both_databases

MEMBER_EVENTS = ["member.created", "member.updated", "member.suspended", "member.reactivated", "member.deleted"]


def _scim(app: Any, org: Any) -> Scim:
    return Scim(app.test_client(), add_source(app.test_cli_runner(), org.name, "--activate"))


def _endpoint(app: Any, org: Any, url: str, types: list[str] | None = None) -> tuple[int, str]:
    """An endpoint of the organization (made as the CLI would); its id and its secret."""
    with app.app_context():
        made = webhooks.create_endpoint(org.id, url, types or MEMBER_EVENTS, Actor.cli())
        db.session.commit()
        return made.endpoint.id, made.secret


def _tries(app: Any, endpoint_id: int) -> list[tuple[int, int, str, int | None, bool]]:
    """The delivery log, oldest first: (seq, attempt, status, status code, resend)."""
    with app.app_context():
        rows = db.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id)
        )
        return [(d.seq, d.attempt, d.status, d.status_code, d.resend) for d in rows]


def _state(app: Any, endpoint_id: int) -> WebhookEndpoint:
    with app.app_context():
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        db.session.expunge(endpoint)
        return endpoint


def _deliver(app: Any, at: datetime | None = None) -> int:
    with app.app_context():
        return webhooks.deliver_due((lambda: at) if at is not None else utcnow)


def _verify(secret: str, request: Any) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


# ---------------------------------------------------------------- the promise: no event is lost


@pytest.mark.slow
def test_no_event_is_lost_when_the_worker_is_killed_mid_delivery(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    env = {"WEBHOOK_LEASE_SECONDS": "3", "WEBHOOK_POLL_SECONDS": "1", "WEBHOOK_RETRY_BASE_SECONDS": "1"}
    use_storage(app, sqlite_jobs)
    scim = _scim(app, org)
    with receiving(Receiver()) as receiver:
        receiver.hold(20)  # the 20th delivery hangs until the worker is dead
        endpoint_id, secret = _endpoint(app, org, receiver.url)
        first = _state(app, endpoint_id).last_seq + 1
        with worker(database_url, tmp_path, sqlite_jobs, env=env) as running:
            created = [scim.create_user(f"user{n:02d}@acme.test")["id"] for n in range(50)]
            assert receiver.arrived.wait(60), "the 20th delivery never came"
            os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait(10)
        receiver.release()
        wanted = set(range(first, first + 50))
        with worker(database_url, tmp_path, sqlite_jobs, env=env):
            wait_for(lambda: wanted <= set(receiver.first_receipts()), what="every event at the receiver", timeout=90)

    firsts = receiver.first_receipts()
    assert firsts == sorted(firsts), "events reached the receiver out of order"
    assert set(firsts) == wanted
    # The event in flight when the worker died came again: at least once, never lost.
    held = receiver.requests[19].seq
    assert sum(1 for r in receiver.requests if r.seq == held) >= 2
    # Every delivery verifies with the endpoint's secret, and names the member it is about.
    for request in receiver.requests:
        payload = _verify(secret, request)
        assert payload["type"] == "member.created"
        assert payload["data"]["seq"] == request.seq
        assert request.headers["webhook-id"] == payload["data"]["id"]
    by_seq = {r.seq: r.json["data"]["object"]["id"] for r in receiver.requests}
    assert [by_seq[s] for s in sorted(wanted)] == created
    assert _state(app, endpoint_id).last_seq == first + 49


@pytest.mark.slow
def test_a_500_is_retried_by_the_worker_until_a_200(
    app: Any, org: Any, database_url: str, tmp_path: Path, sqlite_jobs: JobsStorage
) -> None:
    env = {"WEBHOOK_POLL_SECONDS": "1", "WEBHOOK_RETRY_BASE_SECONDS": "1"}
    use_storage(app, sqlite_jobs)
    scim = _scim(app, org)
    with receiving(Receiver([500])) as receiver:
        endpoint_id, secret = _endpoint(app, org, receiver.url)
        with worker(database_url, tmp_path, sqlite_jobs, env=env):
            ann = scim.create_user("ann@acme.test")
            wait_for(lambda: len(receiver.requests) >= 2, what="the retry")
    seq = receiver.requests[0].seq
    assert [r.seq for r in receiver.requests[:2]] == [seq, seq]
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert _verify(secret, receiver.requests[1])["data"]["object"]["id"] == ann["id"]
    wait_for(lambda: len(_tries(app, endpoint_id)) >= 2, what="the delivery log")
    assert _tries(app, endpoint_id)[:2] == [(seq, 1, "failed", 500, False), (seq, 2, "succeeded", 200, False)]
    state = _state(app, endpoint_id)
    assert state.last_seq == seq and state.failures == 0 and state.failing_since is None


# ---------------------------------------------------------------- backoff, disabling, order after a failure


def test_backoff_doubles_and_three_days_of_failure_disable_the_endpoint_and_notify(app: Any, org: Any) -> None:
    app.config.update(WEBHOOK_RETRY_BASE_SECONDS=60, WEBHOOK_RETRY_MAX_SECONDS=3600)
    keys_admin = make_admin(app, org, "keys@acme.test", {"api_keys"})
    make_admin(app, org, "directory@acme.test", {"directory"})
    scim = _scim(app, org)
    with receiving(Receiver([500] * 1000)) as receiver:
        endpoint_id, _ = _endpoint(app, org, receiver.url)
        scim.create_user("ann@acme.test")
        scim.create_user("bob@acme.test")
        start = utcnow()
        assert _deliver(app, start) == 0
        first_retry = _state(app, endpoint_id).next_attempt_at
        assert first_retry == start + timedelta(seconds=60)
        # Not due yet: nothing is sent.
        _deliver(app, start + timedelta(seconds=30))
        assert len(receiver.requests) == 1
        _deliver(app, first_retry)
        assert _state(app, endpoint_id).next_attempt_at == first_retry + timedelta(seconds=120)
        # Tries go on, capped at an hour apart, until three days of failure.
        at = first_retry
        while _state(app, endpoint_id).enabled:
            at = _state(app, endpoint_id).next_attempt_at
            _deliver(app, at)
            assert at - start <= timedelta(days=3, hours=1)
        tries = len(receiver.requests)

    state = _state(app, endpoint_id)
    assert not state.enabled and at - start >= timedelta(days=3)
    assert state.disabled_reason is not None and "Answered 500" in state.disabled_reason
    # Every try was of the first event: the second waited behind it (order).
    assert {r.seq for r in receiver.requests} == {receiver.requests[0].seq}
    assert 70 < tries < 90
    with app.app_context():
        notes = db.session.scalars(select(Notification).where(Notification.kind == webhooks.DISABLED_KIND)).all()
        assert sorted(n.admin_id for n in notes) == sorted([org.admin_id, keys_admin])
        assert notes[0].link == f"/settings/webhooks/{endpoint_id}"
    # The console says so, and enabling sends what waited, in order.
    console = Console(app.test_client())
    console.login(org.email, org.password)
    page = console.get(f"/settings/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "Disabled" in page and "Answered 500" in page
    listed = console.get("/notifications/").get_data(as_text=True)
    assert "A webhook endpoint was disabled" in listed and "View webhook endpoint" in listed
    with receiving(Receiver()) as healthy:
        with app.app_context():
            db.session.get(WebhookEndpoint, endpoint_id).url = healthy.url
            db.session.commit()
        assert console.post(f"/settings/webhooks/{endpoint_id}/enable").status_code == 200
        assert _deliver(app) == 2
    assert [r.json["type"] for r in healthy.requests] == ["member.created", "member.created"]
    assert [r.seq for r in healthy.requests] == sorted(r.seq for r in healthy.requests)


def test_redirects_are_not_followed(app: Any, org: Any) -> None:
    scim = _scim(app, org)
    with receiving(Receiver([302])) as receiver:
        endpoint_id, _ = _endpoint(app, org, receiver.url)
        scim.create_user("ann@acme.test")
        _deliver(app)
    assert [r.path for r in receiver.requests] == ["/hook"]
    with app.app_context():
        tried = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        assert tried.status == "failed" and tried.status_code == 302
        assert tried.error == "Answered 302: redirects are not followed"


def test_an_unreachable_endpoint_is_a_failed_try_not_a_crash(app: Any, org: Any) -> None:
    from tests.servers import free_port

    scim = _scim(app, org)
    endpoint_id, _ = _endpoint(app, org, f"http://127.0.0.1:{free_port()}/hook")
    scim.create_user("ann@acme.test")
    assert _deliver(app) == 0
    [(seq, attempt, status, code, _resend)] = _tries(app, endpoint_id)
    assert (attempt, status, code) == (1, "failed", None)
    assert _state(app, endpoint_id).failures == 1


def test_only_the_chosen_event_types_are_sent_and_the_cursor_passes_the_others(app: Any, org: Any) -> None:
    scim = _scim(app, org)
    with receiving(Receiver()) as receiver:
        endpoint_id, secret = _endpoint(app, org, receiver.url, ["group.created", "group.member_added"])
        ann = scim.create_user("ann@acme.test")
        scim.post(
            "/Groups",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Sales",
                "members": [{"value": ann["id"]}],
            },
        )
        scim.create_user("bob@acme.test")
        _deliver(app)
    assert [r.json["type"] for r in receiver.requests] == ["group.created", "group.member_added"]
    added = _verify(secret, receiver.requests[1])
    assert added["data"]["attributes"]["member"] == {"id": ann["id"], "user_name": "ann@acme.test"}
    with app.app_context():
        assert _state(app, endpoint_id).last_seq == events.last_seq(org.id)


def test_a_url_typed_with_accents_or_spaces_is_kept_percent_encoded_and_delivered_to(app: Any, org: Any) -> None:
    """An HTTP request line is ASCII (RFC 9112 §3.2): "/hööks?to=a b" is stored and requested as a browser
    would send it. Before, the worker's request raised UnicodeEncodeError on every run, for ever."""
    scim = _scim(app, org)
    with receiving(Receiver()) as receiver:
        endpoint_id, _ = _endpoint(app, org, receiver.url.replace("/hook", "/h\u00f6\u00f6ks/%41?to=\u00e4 b&x=1"))
        scim.create_user("ann@acme.test")
        assert _deliver(app) == 1
    assert _state(app, endpoint_id).url.endswith("/h%C3%B6%C3%B6ks/%41?to=%C3%A4%20b&x=1")
    [request] = receiver.requests
    assert request.path == "/h%C3%B6%C3%B6ks/%41?to=%C3%A4%20b&x=1"
    assert _tries(app, endpoint_id)[0][2:4] == ("succeeded", 200)
    with app.app_context(), pytest.raises(Exception, match="at most"):
        webhooks.check_url("https://example.com/" + "\u00f6" * 400)  # 420 characters typed, 2,420 encoded


def test_body_and_headers_follow_standard_webhooks(app: Any, org: Any) -> None:
    scim = _scim(app, org)
    with receiving(Receiver()) as receiver:
        _, secret = _endpoint(app, org, receiver.url)
        ann = scim.create_user("ann@acme.test")
        _deliver(app)
    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("evt_")
    assert request.headers["webhook-signature"].startswith("v1,")
    payload = _verify(secret, request)
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "member.created"
    data = payload["data"]
    assert data["object"] == {"type": "member", "id": ann["id"]}
    assert data["actor"]["type"] == "source"
    assert data["attributes"]["user_name"] == "ann@acme.test"
    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_secret()).verify(request.body, request.headers)


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(app: Any, org: Any) -> None:
    scim = _scim(app, org)
    with receiving(Receiver()) as receiver:
        endpoint_id, old = _endpoint(app, org, receiver.url)
        with app.app_context():
            new = webhooks.rotate_secret(org.id, endpoint_id, Actor.cli()).secret
            db.session.commit()
        scim.create_user("ann@acme.test")
        _deliver(app)
        scim.create_user("bob@acme.test")
        _deliver(app, utcnow() + timedelta(hours=25))
    during, after = receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    _verify(old, during)
    _verify(new, during)
    # 25 hours later (a fake clock, so the timestamp is in the future for the library's check): one signature.
    signed_at = datetime.fromtimestamp(int(after.headers["webhook-timestamp"]), UTC)
    expected = {key: Webhook(key).sign(after.headers["webhook-id"], signed_at, after.body) for key in (old, new)}
    assert after.headers["webhook-signature"] == expected[new]


def test_resend_sends_the_event_again_with_the_same_id(app: Any, org: Any) -> None:
    scim = _scim(app, org)
    console = Console(app.test_client())
    console.login(org.email, org.password)
    with receiving(Receiver()) as receiver:
        endpoint_id, secret = _endpoint(app, org, receiver.url)
        scim.create_user("ann@acme.test")
        _deliver(app)
        seq = receiver.requests[0].seq
        page = console.get(f"/settings/webhooks/{endpoint_id}").get_data(as_text=True)
        assert f"Resend event {seq}" in page
        queued = console.post(f"/settings/webhooks/{endpoint_id}/resend", {"seq": str(seq)}, htmx=True)
        assert queued.status_code == 200 and "queued to be sent again" in queued.get_data(as_text=True)
        _deliver(app)
    first, again = receiver.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"] and again.body == first.body
    _verify(secret, again)
    assert _tries(app, endpoint_id) == [(seq, 1, "succeeded", 200, False), (seq, 2, "succeeded", 200, True)]
    with app.app_context():
        logged = db.session.scalar(select(AdminLog).where(AdminLog.event_type == "Resend webhook event"))
        assert logged is not None and logged.actor == org.email


def _in_the_claims_wait(monkeypatch: Any, wait: Any) -> Any:
    """Make the claim's ``time.sleep`` call ``wait`` (other threads, SQLite's checkpoint thread among them,
    still sleep: the module is shared); returns the real sleep."""
    real_sleep, here = time.sleep, threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is here:
            wait(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(webhooks.time, "sleep", sleep)
    return real_sleep


def test_a_claim_keeps_the_endpoint_while_events_keep_coming(app: Any, org: Any, monkeypatch: Any) -> None:
    """During a sync events arrive while a claim sends: it looks again after WEBHOOK_LINGER_SECONDS instead of
    letting go and claiming again (each claim a write queued behind the SCIM writers, and a new connection)."""
    app.config["WEBHOOK_LINGER_SECONDS"] = 0.05
    scim = _scim(app, org)
    claims: list[Any] = []
    real_claim = webhooks.claim

    def counted_claim(now: Any = None) -> Any:
        claims.append(real_claim(now))
        return claims[-1]

    def sleep_while_a_sync_goes_on(seconds: float) -> None:
        if len(receiver.requests) < 3:  # the identity provider sends another user during the wait
            scim.create_user(f"user{len(receiver.requests)}@acme.test")
        real_sleep(seconds)

    monkeypatch.setattr(webhooks, "claim", counted_claim)
    real_sleep = _in_the_claims_wait(monkeypatch, sleep_while_a_sync_goes_on)
    with receiving(Receiver()) as receiver:
        endpoint_id, _ = _endpoint(app, org, receiver.url)
        scim.create_user("ann@acme.test")
        assert _deliver(app) == 3
    seqs = [r.seq for r in receiver.requests]
    assert len(seqs) == 3 and seqs == sorted(seqs) and len(_tries(app, endpoint_id)) == 3
    assert [c is not None for c in claims] == [True, False]  # one claim sent all three, then none was due
    assert _state(app, endpoint_id).lease_owner is None  # let go once a look found nothing more


class _StoppedInTheWait(Exception):
    pass


def test_a_wait_after_events_the_endpoint_does_not_take_saves_the_cursor_and_ends_the_transaction(
    app: Any, org: Any, monkeypatch: Any
) -> None:
    """A batch of only events the endpoint does not take moves its cursor past them: before the claim
    waits for more, that is saved and its read transaction ended (a worker may stop in the wait; on SQLite
    an open reader holds back the WAL's checkpoint)."""
    app.config["WEBHOOK_LINGER_SECONDS"] = 0.05
    scim = _scim(app, org)
    in_transaction: list[bool] = []

    def stop_in_the_wait(seconds: float) -> None:
        in_transaction.append(db.session().in_transaction())
        raise _StoppedInTheWait

    endpoint_id, _ = _endpoint(app, org, "http://127.0.0.1:9/hook", ["group.created"])
    scim.create_user("ann@acme.test")
    scim.create_user("bob@acme.test")
    _in_the_claims_wait(monkeypatch, stop_in_the_wait)
    with pytest.raises(_StoppedInTheWait):
        _deliver(app)
    assert in_transaction == [False]
    with app.app_context():
        assert _state(app, endpoint_id).last_seq == events.last_seq(org.id)
    assert _tries(app, endpoint_id) == []


class _Capture:
    """A TCP server on 127.0.0.1 that keeps the bytes of each request and answers 204, kept alive."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as stream:
                while head := self._head(stream):
                    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])  # type: ignore[index]
                    self.requests.append(head + stream.read(length))
                    connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    @staticmethod
    def _head(stream: Any) -> bytes:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = stream.readline()
            if not line:
                return b""
            head += line
        return head

    def close(self) -> None:
        self.server.close()


def test_a_delivery_is_the_request_http_client_writes(app: Any, org: Any) -> None:
    """Each request goes out in one write, made from a start built once per endpoint: a receiver gets the
    bytes ``http.client``'s ``request`` wrote for the same POST (the request line, Host, Accept-Encoding,
    Content-Length, the Standard Webhooks headers, Content-Type, User-Agent), request after request."""
    scim = _scim(app, org)
    scim.create_user("ann@acme.test")
    scim.create_user("bob@acme.test")
    secret, at = webhooks.new_secret(), datetime(2026, 12, 1, 12, 0)
    with app.app_context():
        rows = events.after(org.id, 0, limit=10)
    bodies = [webhooks.body_of(row) for row in rows]
    posts = [
        (body, webhooks.signed_headers(events.webhook_id(row), body, secret, None, at))
        for row, body in zip(rows, bodies, strict=True)
    ]
    assert len(posts) >= 2
    for row, body in zip(rows, bodies, strict=True):  # the body as json.dumps wrote it
        document = events.document(row)
        written = {"type": row.type, "timestamp": document["created_at"], "data": document}
        assert body == json.dumps(written, separators=(",", ":")).encode("utf-8")
    capture = _Capture()
    try:
        path = "/hook?tenant=a%20b"
        old = http.client.HTTPConnection("127.0.0.1", capture.port, timeout=5)
        for body, headers in posts:
            old.request(
                "POST",
                path,
                body=body,
                headers={**headers, "Content-Type": "application/json", "User-Agent": webhooks.USER_AGENT},
            )
            assert old.getresponse().read() == b""
        old.close()
        sender = webhooks.Sender(f"http://127.0.0.1:{capture.port}{path}", 5)
        assert [sender.post(body, headers).status_code for body, headers in posts] == [204] * len(posts)
        sender.close()
    finally:
        capture.close()
    assert capture.requests[len(posts) :] == capture.requests[: len(posts)]
    # HTTPS on its own port: no ":443" in Host, as http.client writes it.
    head = webhooks._request_head(http.client.HTTPSConnection("example.com"), "/h")
    assert head == b"POST /h HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: identity\r\n"


def test_a_claim_finds_the_pending_resends_through_their_own_index(app: Any, org: Any) -> None:
    """Every claim looks for pending resends first: a walk of the endpoint's whole delivery log (a row per
    event delivered) took a quarter of the worker's time in a 100,000-user sync (BENCHMARKS.md)."""
    from sqlalchemy import insert, text

    endpoint_id, _ = _endpoint(app, org, "http://127.0.0.1:9/hook")
    with app.app_context():
        now = utcnow()
        row = {"org_id": org.id, "endpoint_id": endpoint_id, "event_type": "member.created", "attempt": 1}
        db.session.execute(
            insert(WebhookDelivery),
            [{**row, "seq": n, "status": "succeeded", "resend": False, "created_at": now} for n in range(1, 2001)]
            + [{**row, "seq": 7, "status": "pending", "resend": True, "created_at": now}],
        )
        db.session.commit()
        assert db.session.scalar(webhooks.next_resend(endpoint_id)).seq == 7
        if db.engine.dialect.name == "sqlite":
            statement = webhooks.next_resend(endpoint_id).compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
            assert "ix_webhook_deliveries_pending" in plan, plan
        else:
            db.session.execute(text("ANALYZE webhook_deliveries"))
            statement = webhooks.next_resend(endpoint_id).compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {statement}")))
            assert "ix_webhook_deliveries_pending" in plan, plan


def test_resend_of_an_unknown_event_is_refused_and_writes_nothing(app: Any, org: Any) -> None:
    console = Console(app.test_client())
    console.login(org.email, org.password)
    endpoint_id, _ = _endpoint(app, org, "http://127.0.0.1:9/hook")
    refused = console.post(f"/settings/webhooks/{endpoint_id}/resend", {"seq": "999"}, htmx=True)
    assert refused.status_code == 422 and "no longer kept" in refused.get_data(as_text=True)
    assert _tries(app, endpoint_id) == []


def test_two_claims_never_take_one_endpoint(app: Any, org: Any) -> None:
    """A worker's lease keeps a second worker off the endpoint until it lets go (order per endpoint)."""
    scim = _scim(app, org)
    _endpoint(app, org, "http://127.0.0.1:9/hook")
    scim.create_user("ann@acme.test")
    with app.app_context():
        now = utcnow()
        first = webhooks.claim(now)
        db.session.commit()
        assert first is not None
        assert webhooks.claim(now) is None
        assert webhooks.claim(now + webhooks.lease_duration() + timedelta(seconds=1)) is not None
