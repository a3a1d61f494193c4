"""CPU milliseconds and SQL statements per request, in process: the figure a busy machine does not blur.

    python bench/cpu_cost.py [--requests 300] [--members 20000]

wrk's requests per second on a shared 2-core machine depend on what else
runs; the CPU time one request costs the server does much less. This script
sends the same JumpCloud-shaped requests through each WSGI app's test client
(no sockets, no gunicorn) and prints, per operation, ``time.process_time()``
per request and, for the app, the SQL statements per request:

* the app on a fresh SQLite database made like ``make bench`` makes it (CLI
  organization and JumpCloud source, bulk-seeded members), and ``sync``: one
  user of an initial sync (the lookup that finds nobody, then the create);
* the bare Flask ceiling (echo, one indexed SELECT, one INSERT + COMMIT);
* the peer scim2-server in memory (filter, create, PATCH).

Not a test and not part of ``make bench``'s table; BENCHMARKS.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.app_target import (
    app_environment,  # noqa: E402
    bulk_seed_members,  # noqa: E402
    prepare_app_database,  # noqa: E402
)
from bench.scim_payloads import jumpcloud_user  # noqa: E402

PATCH_INACTIVE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "active", "value": False}],
}


#: operations to profile with cProfile (``--profile``), and how many functions to print
PROFILE: set[str] = set()
PROFILE_TOP = 45
#: measure only these app operations (``--only``); empty: all
ONLY: set[str] = set()
#: --show-sql: print the statements of one request per operation
SHOW_SQL = [False]
#: --statement-times: whether to time statements, and the seconds spent in the driver per statement kind
TIME_STATEMENTS = [False]
STATEMENT_TIMES: dict[str, float] = {}


def cost(
    send: Callable[[int], Any], requests: int, statements: list[str] | None = None, name: str = ""
) -> tuple[float, float]:
    """(CPU ms per request, SQL statements per request) of ``send(i)`` after 20 unmeasured calls."""
    for i in range(20):
        send(-i - 1)
    if statements is not None:
        statements.clear()
        if SHOW_SQL[0]:
            send(-21)
            print(f"\n## SQL of one {name}", *(" ".join(sql.split()) for sql in statements), sep="\n- ")
            statements.clear()
    started = time.process_time()
    for i in range(requests):
        send(i)
    cpu = (time.process_time() - started) / requests * 1000
    if name in PROFILE:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [send(requests + i) for i in range(requests)])
        if os.environ.get("BENCH_PROFILE_DIR"):
            profiler.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{name}.prof"))
        print(f"\n## cProfile of {name}, {requests} requests")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(PROFILE_TOP)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE_TOP)
    return cpu, (len(statements) / requests if statements is not None else float("nan"))


def _started_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    conn.info["bench_statement_started"] = time.perf_counter()


def _timed_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    # Wall time in the driver and SQLite, keyed by the statement's first words.
    key = " ".join(statement.split()[:4])[:60]
    STATEMENT_TIMES[key] = STATEMENT_TIMES.get(key, 0.0) + time.perf_counter() - conn.info["bench_statement_started"]


def _print_statement_times(name: str, requests: int) -> None:
    if STATEMENT_TIMES:
        print(f"\n## {name}: ms per request in the driver, by statement (all calls, warm-up and profile included)")
        for key, seconds in sorted(STATEMENT_TIMES.items(), key=lambda item: -item[1]):
            print(f"{seconds * 1000 / requests:8.3f}  {key}")


def checked(response: Any) -> Any:
    """The response, or an error naming what the app answered."""
    if response.status_code >= 300:
        raise RuntimeError(f"{response.status_code}: {response.get_data()[:300]!r}")
    return response


def app_costs(workdir: Path, requests: int, members: int) -> dict[str, tuple[float, float]]:
    """The app's six operations on a seeded SQLite database."""
    from sqlalchemy import event

    url = f"sqlite:///{workdir / 'app.sqlite3'}"
    source = prepare_app_database(url, "http://localhost")  # the test client's address
    ids_path = workdir / "ids.txt"
    bulk_seed_members(url, source["id"], members, ids_path)
    ids = [line.split("\t") for line in ids_path.read_text().splitlines()]
    os.environ.update(app_environment(url))
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        if TIME_STATEMENTS[0]:
            event.listen(db.engine, "before_cursor_execute", _started_statement)
            event.listen(db.engine, "after_cursor_execute", _timed_statement)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {source['token']}", "Content-Type": "application/scim+json"}
    base = f"/scim/v2/{source['id']}/Users"
    rng = random.Random(1)
    # Disjoint id ranges per operation, so PATCH, PUT and DELETE each meet members as seeded.
    share = len(ids) // 4

    def put(i: int) -> Any:
        public_id, user_name = ids[share + i % share]
        user = jumpcloud_user(0)
        user.update(
            userName=user_name, emails=[{"value": user_name, "type": "work", "primary": True}], title=f"Engineer {i}"
        )
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"] = f"put-{public_id}"
        return checked(client.put(f"{base}/{public_id}", data=json.dumps(user), headers=headers))

    def create(i: int) -> Any:
        user = jumpcloud_user(10_000_000 + i + 100, "cpu{n}@acme.com")
        return checked(client.post(base, data=json.dumps(user), headers=headers))

    def sync_user(i: int) -> Any:
        # One user of an initial sync: the lookup that finds nobody, then the create.
        user = jumpcloud_user(20_000_000 + i + 100, "sync{n}@acme.com")
        checked(client.get(base, headers=headers, query_string={"filter": f'userName eq "{user["userName"]}"'}))
        return checked(client.post(base, data=json.dumps(user), headers=headers))

    operations: dict[str, Callable[[int], Any]] = {
        "filter": lambda i: checked(
            client.get(
                base, headers=headers, query_string={"filter": f'userName eq "user{rng.randint(1, members)}@acme.com"'}
            )
        ),
        "create": create,
        "patch": lambda i: checked(
            client.patch(f"{base}/{ids[i % share][0]}", data=json.dumps(PATCH_INACTIVE), headers=headers)
        ),
        "get": lambda i: checked(client.get(f"{base}/{ids[2 * share + i % share][0]}", headers=headers)),
        "put": put,
        "delete": lambda i: checked(client.delete(f"{base}/{ids[3 * share + 20 + i][0]}", headers=headers)),
        "sync": sync_user,
    }
    out = {}
    for name, send in operations.items():
        if not ONLY or name in ONLY:
            STATEMENT_TIMES.clear()
            out[name] = cost(send, requests, statements, name)
            _print_statement_times(name, requests)
    with app.app_context():
        db.engine.dispose()
    return out


def bare_costs(workdir: Path, requests: int) -> dict[str, tuple[float, float]]:
    """The bare Flask ceiling's three operations on SQLite."""
    from bench.reference.bare_flask import create_app, seed

    url = f"sqlite:///{workdir / 'bare.sqlite3'}"
    seed(url, 10_000)
    client = create_app(url).test_client()
    rng = random.Random(2)
    return {
        "echo": cost(lambda i: checked(client.post("/echo", json={"u": i})), requests),
        "select": cost(lambda i: checked(client.get(f"/select?u=user{rng.randint(1, 10_000)}@acme.com")), requests),
        "insert": cost(
            lambda i: checked(client.post("/insert", json={"u": f"cpu{i + 100}@acme.com", "payload": "Engineering"})),
            requests,
        ),
    }


def peer_costs(requests: int) -> dict[str, tuple[float, float]]:
    """The peer's filter, create and PATCH, in memory."""
    from werkzeug.test import Client

    from bench.reference.peer_scim2_server import create_app, seed_users

    app = create_app("token")
    ids = [public_id for public_id, _ in seed_users(app, 5000)]
    client = Client(app)
    headers = {"Authorization": "Bearer token", "Content-Type": "application/scim+json"}
    rng = random.Random(3)
    return {
        "filter": cost(
            lambda i: checked(
                client.get(
                    "/v2/Users",
                    headers=headers,
                    query_string={"filter": f'userName eq "user{rng.randint(1, 5000)}@acme.com"'},
                )
            ),
            requests,
        ),
        "create": cost(
            lambda i: checked(
                client.post(
                    "/v2/Users",
                    headers=headers,
                    data=json.dumps(jumpcloud_user(10_000_000 + i + 100, "cpu{n}@acme.com")),
                )
            ),
            requests,
        ),
        "patch": cost(
            lambda i: checked(
                client.patch(f"/v2/Users/{ids[i % len(ids)]}", headers=headers, data=json.dumps(PATCH_INACTIVE))
            ),
            requests,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one line per target and operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="measured requests per operation (300)")
    parser.add_argument("--members", type=int, default=20_000, help="members seeded in the app (20,000)")
    parser.add_argument("--profile", default="", help="comma-separated app operations to profile with cProfile")
    parser.add_argument(
        "--statement-times", action="store_true", help="print the time each kind of statement spends in the driver"
    )
    parser.add_argument("--show-sql", action="store_true", help="print the SQL statements of one request per operation")
    parser.add_argument("--only", default="", help="comma-separated app operations to measure (app only)")
    args = parser.parse_args(argv)
    PROFILE.update(filter(None, args.profile.split(",")))
    SHOW_SQL[0] = args.show_sql
    TIME_STATEMENTS[0] = args.statement_times
    ONLY.update(filter(None, args.only.split(",")))
    workdir = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    try:
        rows = []
        if not ONLY:
            rows += [("bare-flask", name, *value) for name, value in bare_costs(workdir, args.requests).items()]
            rows += [("scim2-server", name, *value) for name, value in peer_costs(args.requests).items()]
        rows += [("app", name, *value) for name, value in app_costs(workdir, args.requests, args.members).items()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'target':<14} {'operation':<9} {'CPU ms/req':>10} {'SQL/req':>8}")
    for target, name, cpu, sql in rows:
        print(f"{target:<14} {name:<9} {cpu:>10.2f} {'' if sql != sql else f'{sql:.1f}':>8}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
