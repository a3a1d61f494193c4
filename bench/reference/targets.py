"""The two reference targets: the bare Flask ceiling and the scim2-server peer.

``reference_targets()`` returns them in the order they are measured. Their
operations share ``kind`` names with the app's future target, so the table
lines up "lookup" (bare SELECT, peer filter, app filter) and "create" (bare
INSERT, peer create, app create).

Options read from ``ServerContext.options`` (all optional):

* ``database_url``: database of the bare app (default: SQLite in the workdir);
* ``seed_rows``: rows the bare app's table holds (default 10000);
* ``peer_seed_users``: users the peer creates before forking (default: enough
  for its delete run to never run out, at least 2000).
"""

from __future__ import annotations

from pathlib import Path

from bench.runner import BenchError, Operation, ServerContext, Target, gunicorn_command
from bench.scim_payloads import LUA_USERNAME_FORMAT

DEFAULT_SEED_ROWS = 10000
PEER_SCIM_BASE = "/v2"
# The peer's one process serves as many requests at once as the bench opens connections.
PEER_THREADS = 8
# Peer deletes ran at ~3000/s on the 2-core machine; 4000 per second of
# duration leaves headroom so ids_exhausted stays at 0.
PEER_USERS_PER_SECOND = 4000
# Pre-fork seeding takes ~0.7 ms per user; the rest is headroom for a busy machine.
PEER_SEED_SECONDS_PER_USER = 0.004


def _bare_setup(ctx: ServerContext) -> dict[str, str]:
    """Create and fill the bare app's table before gunicorn starts (no worker race)."""
    # Imported here: only this target needs Flask and SQLAlchemy in the runner.
    from bench.reference.bare_flask import seed

    url = ctx.options.get("database_url") or f"sqlite:///{ctx.workdir / 'bare-flask.sqlite3'}"
    rows = int(ctx.options.get("seed_rows") or DEFAULT_SEED_ROWS)
    seed(url, rows)
    ctx.options["seed_rows"] = rows
    return {"DATABASE_URL": url}


def _bare_seed(ctx: ServerContext) -> dict[str, str]:
    """Tell the select script the seeded range."""
    return {"SEED_FIRST": "1", "SEED_COUNT": str(ctx.options["seed_rows"]), "USERNAME_FORMAT": LUA_USERNAME_FORMAT}


def bare_flask_target() -> Target:
    """The framework ceiling: bare Flask + SQLAlchemy under gunicorn."""
    return Target(
        name="bare-flask",
        command=lambda ctx: gunicorn_command("bench.reference.bare_flask:app", ctx),
        ready_path="/healthz",
        setup=_bare_setup,
        seed=_bare_seed,
        operations=[
            Operation("echo", "echo", "bare_echo.lua"),
            Operation("select", "lookup", "bare_select.lua"),
            Operation("insert", "create", "bare_insert.lua"),
        ],
    )


def _peer_users(ctx: ServerContext) -> int:
    """How many users the peer seeds: the option, or enough for its delete run."""
    explicit = ctx.options.get("peer_seed_users")
    return int(explicit) if explicit else max(2000, PEER_USERS_PER_SECOND * ctx.duration)


def _peer_ids_file(ctx: ServerContext) -> Path:
    return ctx.workdir / "peer-ids.txt"


def _peer_setup(ctx: ServerContext) -> dict[str, str]:
    """Environment that makes the peer seed itself before gunicorn forks."""
    return {
        "PEER_SEED_USERS": str(_peer_users(ctx)),
        "PEER_IDS_FILE": str(_peer_ids_file(ctx)),
        "PEER_BEARER_TOKEN": ctx.token,
    }


def _peer_seed(ctx: ServerContext) -> dict[str, str]:
    """Check the pre-fork seed landed and point the scripts at it."""
    path = _peer_ids_file(ctx)
    count = sum(1 for line in path.read_text().splitlines() if line.strip())
    if count != _peer_users(ctx):
        raise BenchError(f"peer seeded {count} users, expected {_peer_users(ctx)}")
    return {
        "SCIM_BASE": PEER_SCIM_BASE,
        "SCIM_TOKEN": ctx.token,
        "IDS_FILE": str(path),
        "SEED_FIRST": "1",
        "SEED_COUNT": str(count),
        "USERNAME_FORMAT": LUA_USERNAME_FORMAT,
    }


def peer_target() -> Target:
    """scim2-server's WSGI app on in-memory storage: one process with threads, seeded before serving.

    Its storage is a dict in one process. Forked workers would each keep their own
    copy, so a user created through one would be a 404 through the other: not a
    server anyone could deploy. One process with ``PEER_THREADS`` threads is the
    only way it stays one directory, so that is how it is measured.
    """
    return Target(
        name="scim2-server",
        command=lambda ctx: gunicorn_command(
            "bench.reference.peer_scim2_server:app",
            ctx,
            ["--preload", "--workers", "1", "--worker-class", "gthread", "--threads", str(PEER_THREADS)],
        ),
        ready_path=f"{PEER_SCIM_BASE}/ServiceProviderConfig",
        ready_timeout=lambda ctx: 30 + _peer_users(ctx) * PEER_SEED_SECONDS_PER_USER,
        setup=_peer_setup,
        seed=_peer_seed,
        operations=[
            Operation("filter", "lookup", "scim_filter.lua"),
            Operation("create", "create", "scim_create.lua"),
            Operation("patch", "patch", "scim_patch.lua"),
            Operation("get", "get", "scim_get.lua"),
            Operation("put", "put", "scim_put.lua"),
            # No warm-up: it would delete ids the measured run then finds gone.
            Operation("delete", "delete", "scim_delete.lua", warmup=False),
        ],
    )


def reference_targets() -> list[Target]:
    """Both reference targets, ceiling first."""
    return [bare_flask_target(), peer_target()]
