"""An initial sync with one webhook endpoint subscribed, against the same sync with none.

    python bench/webhooks_sync.py [--users 100000] [--concurrency 8] [--database-url postgresql+psycopg://...]
                                  [--json results.json]

Each run gets a fresh database (SQLite in a temporary folder unless ``--database-url`` names a
PostgreSQL server, on which a temporary database is made and dropped), the organization and an
active JumpCloud source made through the CLI, gunicorn with 2 workers (bench settings, no access
log) and a job worker (``flask --app wsgi worker``) on a SQLite queue, in both runs alike. The
identity provider's initial sync (a lookup by userName, then ``POST /Users``, for each user) is
driven by wrk when it is installed, else by the Python loader of ``bench/initial_sync.py``.

The "webhook" run first adds an endpoint subscribed to every event type, pointing at a receiver on
127.0.0.1 (an ``http.server`` in this process answering 200). The receiver stands for a service on
another host: its threads run at the lowest CPU priority (``RECEIVER_NICE``), so its own parsing and
verifying take only the CPU the sync leaves, and what the drop counts is the app's work for the
webhook (the job worker, itself at ``JOBS_NICE``). After the sync it waits until the
receiver has every event of the organization (1..last seq, each verified with ``standardwebhooks``
for a sample) and reports how long after the sync's end the last one arrived.

Prints one line per run, the throughput drop, and the delivery check; ``--json`` writes them too.
The events also cost the sync something of their own (one UPDATE of the organization's counter and
one INSERT per request, see portal/core/events.py): the "none" run pays that too, as it must.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import app_environment, fresh_database, in_process_app, prepare_app_database  # noqa: E402
from bench.initial_sync import SyncResult, initial_sync, initial_sync_wrk  # noqa: E402
from bench.runner import (  # noqa: E402
    REPO_ROOT,
    BenchError,
    RunningServer,
    ServerContext,
    free_port,
    gunicorn_command,
    stop_server,
    wait_ready,
)

#: one delivery in this many has its signature checked as it arrives
VERIFY_EVERY = 100
#: the niceness of the receiver's threads: it stands for a service on another host, so on this machine it
#: takes only the CPU the sync and the job worker leave (Linux sets a thread's priority by its own id)
RECEIVER_NICE = 19


class Receiver:
    """Counts the event numbers it receives; keeps a sample of bodies and headers to verify."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seqs: set[int] = set()
        self.requests = 0
        #: the endpoint's signing secret, set once the endpoint exists (before any event is sent)
        self.secret = ""
        self.verified = 0
        self.bad_signatures = 0
        self.last_at = 0.0

    def _verify(self, body: bytes, headers: dict[str, str]) -> bool:
        # On arrival: Standard Webhooks refuses a timestamp more than 5 minutes old, as a receiver must.
        from standardwebhooks import Webhook, WebhookVerificationError

        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECEIVER_NICE)
                super().setup()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seq = json.loads(body)["data"]["seq"]
                with receiver.lock:
                    receiver.requests += 1
                    receiver.seqs.add(seq)
                    receiver.last_at = time.monotonic()
                    sample = receiver.requests % VERIFY_EVERY == 1
                if sample:
                    good = receiver._verify(body, dict(self.headers.items()))
                    with receiver.lock:
                        receiver.verified += good
                        receiver.bad_signatures += not good
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


@contextlib.contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _add_endpoint(url: str, hook_url: str) -> tuple[str, int]:
    """An endpoint of the bench organization taking every event type; returns its secret and starting cursor."""
    from sqlalchemy import select

    from portal.core import webhooks
    from portal.core.actors import Actor
    from portal.extensions import db
    from portal.models import EVENT_TYPES, Organization

    app = in_process_app(url)
    with app.app_context():
        org_id = db.session.scalar(select(Organization.id))
        made = webhooks.create_endpoint(org_id, hook_url, list(EVENT_TYPES), Actor.cli())
        db.session.commit()
        secret, cursor = made.secret, made.endpoint.last_seq
        db.engine.dispose()
    return secret, cursor


def _delivery_state(url: str) -> tuple[int, int]:
    """(the organization's last event number, the endpoint's cursor)."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Organization, WebhookEndpoint

    app = in_process_app(url)
    with app.app_context():
        last = db.session.scalar(select(Organization.event_seq)) or 0
        cursor = db.session.scalar(select(WebhookEndpoint.last_seq)) or 0
        db.engine.dispose()
    return int(last), int(cursor)


#: on a PostgreSQL server whose autovacuum is off, ``LockWaits`` runs ANALYZE this often, as autovacuum's
#: default naptime would: without statistics the planner walked a whole index for each lookup by userName
AUTOANALYZE_SECONDS = 60.0


class LockWaits:
    """On PostgreSQL, samples every 20 ms how many backends wait for a lock: the writers of one organization
    queue on its counter row (``organizations.event_seq``) from their events' UPDATE to their COMMIT.

    When the server runs with ``autovacuum = off`` (this machine's test server does), it also runs ANALYZE
    every ``AUTOANALYZE_SECONDS``, as a production server's autovacuum would during a long sync.
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.samples = 0
        self.waiting = 0
        self.on_counter = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from sqlalchemy import text

        query = text(
            "SELECT count(*), count(*) FILTER (WHERE l.relation = 'organizations'::regclass "
            "OR a.query ILIKE 'UPDATE organizations SET event_seq%') "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted"
        )
        with self.engine.connect() as connection:
            autovacuum = connection.execute(text("SHOW autovacuum")).scalar_one() == "on"
            analyzed = time.monotonic()
            while not self.stop.wait(0.02):
                if not autovacuum and time.monotonic() - analyzed >= AUTOANALYZE_SECONDS:
                    connection.execute(text("ANALYZE"))
                    analyzed = time.monotonic()
                waiting, on_counter = connection.execute(query).one()
                self.samples += 1
                self.waiting += int(waiting)
                self.on_counter += int(on_counter)

    def __enter__(self) -> LockWaits:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.engine.dispose()

    def as_dict(self) -> dict[str, Any]:
        samples = max(self.samples, 1)
        return {
            "lock_samples": self.samples,
            "mean_backends_waiting": round(self.waiting / samples, 3),
            "mean_waiting_on_event_counter": round(self.on_counter / samples, 3),
        }


def _start(command: list[str], env: dict[str, str], log_path: Path) -> RunningServer:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return RunningServer(process, log_path)


def _sync(base_url: str, scim_base: str, token: str, users: int, concurrency: int) -> SyncResult:
    if shutil.which("wrk"):
        return initial_sync_wrk(base_url, scim_base, token, users, concurrency=concurrency, deadline=3600)
    return initial_sync(base_url, scim_base, token, users, concurrency=concurrency, deadline=3600)


def run(mode: str, users: int, concurrency: int, server_url: str | None) -> dict[str, Any]:
    """One initial sync; ``mode`` is "none" or "webhook"."""
    folder = Path(tempfile.mkdtemp(prefix=f"webhooks-bench-{mode}-"))
    try:
        with fresh_database(server_url, "webhooks-sync-") as url, contextlib.ExitStack() as stack:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            source = prepare_app_database(url, base_url)
            env = {
                **app_environment(url),
                "JOBS_URL": f"sqlite:///{folder / 'jobs.db'}",
                "WEBHOOK_POLL_SECONDS": "1",
            }
            receiver: Receiver | None = None
            secret, first_cursor = "", 0
            if mode == "webhook":
                receiver, hook_url = stack.enter_context(receiving())
                secret, first_cursor = _add_endpoint(url, hook_url)
                receiver.secret = secret
            worker = _start(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--workers", "2"], env, folder / "worker.log"
            )
            stack.callback(stop_server, worker)
            ctx = ServerContext(mode, "127.0.0.1", port, 2, folder, 0, source["token"])
            server = _start(gunicorn_command("wsgi:app", ctx), env, folder / "server.log")
            stack.callback(stop_server, server)
            wait_ready(server, f"{base_url}/healthz", 180)
            waits = LockWaits(url) if server_url else None
            with waits or contextlib.nullcontext():
                result = _sync(base_url, f"/scim/v2/{source['id']}", source["token"], users, concurrency)
            ended = time.monotonic()
            row: dict[str, Any] = {"mode": mode, **result.as_dict(), **(waits.as_dict() if waits else {})}
            if receiver is not None:
                row.update(_check_delivery(url, receiver, first_cursor, ended))
            return row
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_delivery(
    url: str, receiver: Receiver, first_cursor: int, ended: float, timeout: float = 1800
) -> dict[str, Any]:
    """Wait until the receiver has every event made after the endpoint was added."""
    last, _cursor = _delivery_state(url)
    wanted = set(range(first_cursor + 1, last + 1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            complete = wanted <= receiver.seqs
        if complete:
            break
        time.sleep(0.5)
    last, cursor = _delivery_state(url)
    with receiver.lock:
        missing = sorted(wanted - receiver.seqs)
        lag = max(0.0, receiver.last_at - ended)
        return {
            "events": len(wanted),
            "received": len(receiver.seqs),
            "requests": receiver.requests,
            "missing": len(missing),
            "cursor": cursor,
            "verified_signatures": receiver.verified,
            "bad_signatures": receiver.bad_signatures,
            "last_event_after_sync_s": round(lag, 2),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (a temporary database is made)")
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    rows = []
    for mode in ("none", "webhook"):
        print(f"{mode}: syncing {args.users:,} users ...", file=sys.stderr, flush=True)
        rows.append(run(mode, args.users, args.concurrency, args.database_url))
        print(f"{mode}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    none, hooked = rows
    drop = 1 - hooked["users_per_second"] / none["users_per_second"] if none["users_per_second"] else 0.0
    loader = "wrk" if shutil.which("wrk") else "python"
    database = "postgresql" if args.database_url else "sqlite"
    print(f"initial sync of {args.users:,} users ({database}, loader {loader}, {args.concurrency} connections)")
    for row in rows:
        print(
            f"  {row['mode']:<8} {row['users_per_second']:8.1f} users/s  {row['seconds']:7.1f} s  "
            f"created {row['created']:,}  p50 {row['latency_ms']['p50']:.1f} ms  p99 {row['latency_ms']['p99']:.1f} ms"
        )
    print(f"  throughput drop with one endpoint subscribed: {drop:.1%}")
    for row in rows:
        if "lock_samples" in row:
            print(
                f"  {row['mode']:<8} lock waits (PostgreSQL, {row['lock_samples']:,} samples): "
                f"{row['mean_backends_waiting']} backends waiting on average, "
                f"{row['mean_waiting_on_event_counter']} of them on the organization's event counter"
            )
    delivered = hooked["missing"] == 0 and hooked["received"] == hooked["events"] and not hooked["bad_signatures"]
    print(
        f"  delivered {hooked['received']:,} of {hooked['events']:,} events ({hooked['requests']:,} requests), "
        f"cursor {hooked['cursor']:,}, {hooked['verified_signatures']} signatures verified on arrival "
        f"({hooked['bad_signatures']} bad), "
        f"last event {hooked['last_event_after_sync_s']} s after the sync ended: "
        f"{'every event delivered' if delivered else 'EVENTS MISSING'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": rows, "drop": drop, "delivered": delivered}, indent=2))
    if not (none["finished"] and hooked["finished"]):
        raise BenchError("a sync did not finish")
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main())
