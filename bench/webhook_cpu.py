"""The job worker's CPU per delivered webhook event, in process: the figure a busy machine does not blur.

    python bench/webhook_cpu.py [--events 2000] [--look 40] [--profile] [--check]
                                [--database-url postgresql+psycopg://...]
    python bench/webhook_cpu.py --prepare /tmp/w2000.sqlite3 --events 2000   # a database to deliver from, later
    python bench/webhook_cpu.py --from /tmp/w2000.sqlite3                    # deliver only (for callgrind)

Makes a fresh database (SQLite in a temporary folder unless ``--database-url`` names a PostgreSQL
server), an organization and an active JumpCloud source through the app's CLI (in process), then
``--events`` + 200 users through the SCIM test client: one ``member.created`` event each, as an initial
sync records them. A receiver in a subprocess (``--serve``: HTTP/1.1, keep-alive, 204 at once) takes the
deliveries; one endpoint, subscribed to every event type, points at it. The app's objects are frozen
out of the garbage collector as ``wsgi.py`` does in the worker. The first 200 events are delivered
unmeasured (imports, statement caches, the connection); then ``webhooks.deliver_due`` sends the rest,
and the script prints the CPU time of the delivering thread (``time.thread_time``: neither the receiver
nor SQLite's checkpoint thread) and the SQL statements, per event.

By default the events wait as a backlog (a claim reads 200 at a time); ``--look N`` has each look find
at most N, as while a sync goes on: the claim saves its progress and waits after each look.

``--check`` has the receiver keep what it got and compares it, request by request, with what the
delivery code wrote before issue 16's CPU work: the body (``json.dumps`` of the event's document),
the Standard Webhooks headers (``webhook-id``, timestamp and a signature made with
``standardwebhooks.Webhook``), in order, and one succeeded try per event in the delivery log.

For a figure free of noise, count instructions with callgrind on two prepared databases and take the
difference (the setup cancels out)::

    python bench/webhook_cpu.py --prepare /tmp/w1.sqlite3 --events 1000
    python bench/webhook_cpu.py --prepare /tmp/w2.sqlite3 --events 2000
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg1 python bench/webhook_cpu.py --from /tmp/w1.sqlite3
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg2 python bench/webhook_cpu.py --from /tmp/w2.sqlite3

Not a test and not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import ADMIN_EMAIL, ADMIN_PASSWORD, fresh_database  # noqa: E402
from bench.scim_payloads import jumpcloud_user  # noqa: E402

#: events delivered before the measurement (one batch of ``events.after``)
WARMUP = 200
#: the fixed clock of the measured delivery: signatures and the delivery log do not depend on the run's time
CLOCK = datetime(2026, 12, 1, 12, 0, 0)
ORG = "Bench"


def in_process_app(url: str) -> Any:
    """The app on ``url``, driven in process (its test client and its CLI), without rate limits."""
    from portal import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-" + "x" * 32, "TESTING": True}
    return create_app({**config, "RATELIMIT_ENABLED": False})


# ---------------------------------------------------------------- the receiver (a subprocess)


def serve(record: str) -> None:
    """Answer every POST with 204 over kept-alive HTTP/1.1; print the port; with ``record`` (a file),
    append each request (headers, base64 body) to it as a JSON line. Stops when stdin closes."""
    out = open(record, "a") if record else None  # noqa: SIM115  (open for the server's life)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if out is not None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                out.write(json.dumps({"h": headers, "b": base64.b64encode(body).decode()}) + "\n")
                out.flush()
            self.send_response_only(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the bench closes our stdin
    server.server_close()
    if out is not None:
        out.close()


class ReceiverProcess:
    """``serve`` in a subprocess: its CPU is not the worker's, and callgrind does not follow it."""

    def __init__(self, record: str = "") -> None:
        command = [sys.executable, __file__, "--serve", *(["--record", record] if record else [])]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}/hook"

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


# ---------------------------------------------------------------- the database


def prepare(url: str, events: int) -> None:
    """Migrate, make the organization and its JumpCloud source, then ``WARMUP + events`` users by SCIM."""
    from flask_migrate import upgrade

    app = in_process_app(url)
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    made = runner.invoke(args=["org", "create", ORG, "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD])
    assert made.exit_code == 0, made.output
    added = runner.invoke(
        args=["sync-source", "add", "--org", ORG, "--provider", "jumpcloud", "--activate", "--json"]
        + ["--base-url", "http://localhost"]
    )
    assert added.exit_code == 0, added.output
    source = json.loads(added.output.strip().splitlines()[-1])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {source['token']}", "Content-Type": "application/scim+json"}
    users = f"/scim/v2/{source['id']}/Users"
    for n in range(WARMUP + events):
        response = client.post(users, data=json.dumps(jumpcloud_user(n + 1)), headers=headers)
        assert response.status_code == 201, response.get_data()[:300]
    with app.app_context():
        from sqlalchemy import text

        from portal.extensions import db

        if db.engine.dialect.name == "sqlite":  # all in the main file: ``--from`` copies only that
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.commit()
        db.engine.dispose()


def add_endpoint(hook_url: str) -> tuple[int, str]:
    """An endpoint of the organization taking every event type, its cursor at 0; (its id, its secret)."""
    from sqlalchemy import select, update

    from portal.core import webhooks
    from portal.core.actors import Actor
    from portal.extensions import db
    from portal.models import EVENT_TYPES, Organization, WebhookEndpoint

    org_id = db.session.scalar(select(Organization.id).where(Organization.name == ORG))
    made = webhooks.create_endpoint(org_id, hook_url, list(EVENT_TYPES), Actor.cli())
    db.session.flush()
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == made.endpoint.id).values(last_seq=0))
    db.session.commit()
    return made.endpoint.id, made.secret


# ---------------------------------------------------------------- the measurement


def warm_up() -> None:
    """Deliver the first ``WARMUP`` events (one claim of one batch), unmeasured."""
    from portal.core import webhooks
    from portal.extensions import db

    claimed = webhooks.claim(CLOCK)
    db.session.commit()
    assert claimed is not None
    per_claim, webhooks.EVENTS_PER_CLAIM = webhooks.EVENTS_PER_CLAIM, WARMUP
    try:
        sent = webhooks.deliver_claimed(claimed, lambda: CLOCK)
    finally:
        webhooks.EVENTS_PER_CLAIM = per_claim
    assert sent == WARMUP, sent


def arriving(look: int) -> None:
    """Make each look of a claim find at most ``look`` events, as while a sync goes on: the claim sends
    them, saves its progress and waits (1 µs here: a wait costs no CPU) before it looks again."""
    from flask import current_app

    from portal.core import events

    read = events.after
    events.after = lambda org_id, seq, *, limit: read(org_id, seq, limit=min(limit, look))
    current_app.config["WEBHOOK_LINGER_SECONDS"] = 1e-6


def measure(profile: bool) -> tuple[int, float, int]:
    """(events delivered, CPU seconds of this thread, SQL statements) of one ``deliver_due``."""
    from sqlalchemy import event

    from portal.core import webhooks
    from portal.extensions import db

    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        started = time.thread_time()
        sent = profiler.runcall(webhooks.deliver_due, lambda: CLOCK)
        cpu = time.thread_time() - started
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
    else:
        started = time.thread_time()
        sent = webhooks.deliver_due(lambda: CLOCK)
        cpu = time.thread_time() - started
    return sent, cpu, len(statements)


def reference_body(row: Any) -> bytes:
    """The body as ``body_of`` wrote it before issue 16's CPU work (``json.dumps`` of the document)."""
    document = {
        "id": f"evt_{row.id}",
        "seq": row.seq,
        "type": row.type,
        "created_at": row.created_at.isoformat(timespec="milliseconds") + "Z",
        "object": {"type": row.object_type, "id": row.object_id},
        "actor": {"type": row.actor_type, "id": row.actor_id, "name": row.actor_name},
        "changed_fields": list(row.changed_fields or []),
        "attributes": row.data or {},
    }
    return json.dumps(
        {"type": row.type, "timestamp": document["created_at"], "data": document}, separators=(",", ":")
    ).encode("utf-8")


def check(record: Path, endpoint_id: int, secret: str) -> None:
    """Every request as the reference code made it, in order, and one succeeded try per event."""
    from sqlalchemy import select
    from standardwebhooks import Webhook

    from portal.extensions import db
    from portal.models import ChangeEvent, WebhookDelivery

    rows = list(db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.seq)))
    got = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(got) == len(rows), (len(got), len(rows))
    at = CLOCK.replace(tzinfo=UTC)
    signer = Webhook(secret)
    for row, request in zip(rows, got, strict=True):
        body, headers = base64.b64decode(request["b"]), request["h"]
        assert body == reference_body(row), (row.seq, body[:200])
        expected = {
            "webhook-id": f"evt_{row.id}",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signer.sign(f"evt_{row.id}", at, body),
            "content-type": "application/json",
            "user-agent": "DirectorySyncPortal-Webhooks/1",
            "content-length": str(len(body)),
        }
        assert {k: headers.get(k) for k in expected} == expected, (row.seq, headers)
    tries = db.session.execute(
        select(WebhookDelivery.seq, WebhookDelivery.attempt, WebhookDelivery.status, WebhookDelivery.status_code)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id)
    ).all()
    assert [tuple(t) for t in tries] == [(r.seq, 1, "succeeded", 204) for r in rows], tries[:3]
    print(f"check: {len(got)} requests as the reference made them, in order; {len(tries)} tries logged")


def deliver(url: str, options: argparse.Namespace, record: Path | None) -> None:
    """Subscribe an endpoint to a receiver, warm up, measure; print the figures."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import ChangeEvent

    app = in_process_app(url)
    gc.freeze()  # as wsgi.py does after create_app, in the worker (``flask --app wsgi worker``) too
    receiver = ReceiverProcess(str(record) if record else "")
    try:
        with app.app_context():
            endpoint_id, secret = add_endpoint(receiver.url)
            total = db.session.scalar(select(func.count()).select_from(ChangeEvent))
            db.session.commit()
            warm_up()
            if options.look:
                arriving(options.look)
            sent, cpu, statements = measure(options.profile)
            assert sent == total - WARMUP, (sent, total)
            how = f"{options.look} a look" if options.look else "a backlog"
            print(
                f"delivered {sent} events ({how}): {cpu * 1000 / sent:.3f} CPU ms/event (delivering thread), "
                f"{statements / sent:.2f} SQL statements/event"
            )
    finally:
        receiver.stop()
    if record is not None:
        with app.app_context():
            check(record, endpoint_id, secret)
            db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Prepare a database, or deliver from one; print CPU ms and statements per event."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events measured (2000), after 200 unmeasured")
    parser.add_argument("--look", type=int, default=0, help="events a look finds at most, as during a sync")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the measured delivery")
    parser.add_argument("--check", action="store_true", help="compare every request with the reference code's")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (a temporary database is made)")
    parser.add_argument("--prepare", default=None, help="make this SQLite file with the events, and stop")
    parser.add_argument("--from", dest="source", default=None, help="deliver from a copy of this prepared file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--record", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.record)
        return 0
    if args.prepare:
        Path(args.prepare).unlink(missing_ok=True)
        prepare(f"sqlite:///{Path(args.prepare).resolve()}", args.events)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="webhook-cpu-"))
    record = folder / "received.jsonl" if args.check else None
    try:
        if args.source:
            shutil.copyfile(args.source, folder / "app.sqlite3")
            deliver(f"sqlite:///{folder / 'app.sqlite3'}", args, record)
        else:
            with fresh_database(args.database_url, "webhook-cpu-") as url:
                prepare(url, args.events)
                deliver(url, args, record)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
