"""The app as a bench target: a fresh database, an organization and an active JumpCloud source.

``app_target()`` returns a ``runner.Target`` that, before gunicorn starts:

1. makes a database: SQLite in the target's workdir, or a fresh temporary
   database on the PostgreSQL server of ``options["database_url"]`` (dropped
   when the run ends, see ``temporary_postgres()``);
2. migrates it and creates the organization and an active JumpCloud sync source
   through the app's CLI, exactly as an operator would (``flask db upgrade``,
   ``flask org create``, ``flask sync-source add --activate --json``);
3. bulk-inserts the seeded members with SQLAlchemy Core, consistent with the
   models (``*_norm`` columns, ``public_id``, ``org_id``, ``source_id``, the
   department and job title a JumpCloud push would have made): 100,000 HTTP
   creates would take minutes, and the scale figures are about reads.

The server is gunicorn with the app's own ``gunicorn.conf.py`` (production
settings: JSON access log on, one line per request) unless
``options["app_gunicorn_config"]`` is ``"bench"`` (no access log, as the
references). Rate limits are off for the run (``RATELIMIT_ENABLED=false``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import service_times
from bench.runner import REPO_ROOT, BenchError, Operation, ServerContext, Target, gunicorn_command
from bench.scim_payloads import DEFAULT_USERNAME_FORMAT, LUA_USERNAME_FORMAT

ORG_NAME = "Bench"
ADMIN_EMAIL = "admin@bench.test"
ADMIN_PASSWORD = "bench password that is long enough 7"
APP_GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
SEED_BATCH = 10_000

#: every operation of the app, in the order the table shows them (delete last: it consumes ids)
ALL_OPERATIONS = ("filter", "create", "patch", "get", "put", "delete")


def flask_cli(args: list[str], env: dict[str, str]) -> str:
    """Run ``flask --app wsgi ARGS`` from the repository root with ``env``; return its stdout."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )
    if completed.returncode != 0:
        raise BenchError(f"{' '.join(args[:2])} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return completed.stdout


def app_environment(database_url: str) -> dict[str, str]:
    """Environment of the app's CLI and server for the bench: production settings, no rate limit."""
    return {
        "DATABASE_URL": database_url,
        "PORTAL_ENV": "production",
        "SECRET_KEY": "bench-" + "x" * 32,
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "FLASK_DEBUG": "0",
    }


@contextlib.contextmanager
def temporary_postgres(server_url: str) -> Iterator[str]:
    """Yield the URL of a fresh database on ``server_url``'s PostgreSQL server; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"bench_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def fresh_database(server_url: str | None, prefix: str = "bench-") -> Iterator[str]:
    """A fresh database URL: a temporary database on the PostgreSQL server given, else SQLite in a
    temporary folder; either is gone afterwards."""
    if server_url:
        with temporary_postgres(server_url) as url:
            yield url
        return
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield f"sqlite:///{folder / 'app.sqlite3'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def in_process_app(url: str) -> Any:
    """The app on ``url`` for a bench that drives it in process (its test client: no sockets, no gunicorn)."""
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-" + "x" * 32, "TESTING": True})


def bulk_seed_members(
    database_url: str,
    source_public_id: str,
    count: int,
    ids_path: Path,
    first: int = 1,
    username_format: str = DEFAULT_USERNAME_FORMAT,
) -> int:
    """Insert members ``first..first+count-1`` managed by the source, as a JumpCloud push leaves them.

    Core inserts in batches of 10,000; each member gets the department
    "Engineering" and the job title "Engineer" (made once through the domain,
    with the source as their data source). Writes "id<TAB>userName" lines.
    """
    from sqlalchemy import insert, select, text

    from portal import create_app
    from portal.core import departments, workforce
    from portal.core.actors import Actor
    from portal.extensions import db
    from portal.infra import sqlite_writes
    from portal.models import Member, SyncSource, member_departments, norm, utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    lines: list[str] = []
    with app.app_context():
        source = db.session.scalar(select(SyncSource).where(SyncSource.public_id == source_public_id))
        if source is None:
            raise BenchError(f"no sync source {source_public_id}")
        actor = Actor.for_source(source)
        department, _ = departments.find_or_create_department(source.org_id, "Engineering", actor.source_id)
        title, _ = workforce.find_or_create_job_title(source.org_id, "Engineer", actor)
        db.session.commit()
        now = utcnow()
        next_id = (db.session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 0) + 1
        members: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []

        def flush() -> None:
            if members:
                db.session.execute(insert(Member.__table__), members)
                db.session.execute(insert(member_departments), links)
                members.clear()
                links.clear()

        for n in range(first, first + count):
            user_name = username_format.format(n=n)
            public_id = str(uuid.uuid4())
            display = f"Bench User{n}"
            members.append(
                {
                    "id": next_id,
                    "public_id": public_id,
                    "org_id": source.org_id,
                    "source_id": source.id,
                    "external_id": user_name,
                    "external_id_norm": norm(user_name),
                    "email": user_name,
                    "email_norm": norm(user_name),
                    "name": display,
                    "name_norm": norm(display),
                    "first_name": "Bench",
                    "last_name": f"User{n}",
                    "employee_id": str(n),
                    "job_title_id": title.id,
                    "status": "active",
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            links.append({"member_id": next_id, "department_id": department.id})
            lines.append(f"{public_id}\t{user_name}\n")
            next_id += 1
            if len(members) >= SEED_BATCH:
                flush()
        flush()
        if db.engine.dialect.name == "postgresql":
            # PostgreSQL's sequence does not move for explicit ids.
            db.session.execute(
                text("SELECT setval(pg_get_serial_sequence('members', 'id'), (SELECT max(id) FROM members))")
            )
        db.session.commit()
        if db.engine.dialect.name == "sqlite" and db.engine.url.database:
            # Indexed for the Members search now, not by the app's workers during the measurement.
            sqlite_writes.finish_background(db.engine.url.database)
        # Fresh statistics, as a database that grew over time would have.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()
    ids_path.write_text("".join(lines))
    return count


def prepare_app_database(database_url: str, base_url: str) -> dict[str, str]:
    """Migrate, create the organization and an active JumpCloud source; return {"id", "url", "token"}.

    ``base_url`` is where the app will be reached (the CLI refuses to print a SCIM URL without one).
    """
    env = app_environment(database_url)
    flask_cli(["db", "upgrade"], env)
    flask_cli(["org", "create", ORG_NAME, "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD], env)
    out = flask_cli(
        [
            "sync-source",
            "add",
            "--org",
            ORG_NAME,
            "--provider",
            "jumpcloud",
            "--activate",
            "--json",
            "--base-url",
            base_url,
        ],
        env,
    )
    source = json.loads(out.strip().splitlines()[-1])
    if not source.get("token"):
        raise BenchError(f"sync-source add printed no token: {out!r}")
    return source


def _app_setup(members: int, extra: int):
    """Setup hook: database, organization, source, ``members`` lookup users plus ``extra`` per duration second."""

    def setup(ctx: ServerContext) -> dict[str, str]:
        database_url = _database_url(ctx)
        source = prepare_app_database(database_url, f"http://{ctx.host}:{ctx.port}")
        ctx.token = source["token"]
        ctx.options["scim_base"] = f"/scim/v2/{source['id']}"
        ctx.options["source_id"] = source["id"]
        ids = ctx.workdir / "app-ids.txt"
        # The lookup range is 1..members; the ids the writes (and delete) use follow it.
        total = members + extra * ctx.duration
        bulk_seed_members(database_url, source["id"], total, ids)
        ctx.options["seeded"] = members
        ctx.options["ids_file"] = str(ids)
        env = app_environment(database_url)
        if ctx.options.get("service_times_dir"):
            # Read by bench/gunicorn_bench_conf.py: bench/service_times.py's hooks, this server only.
            env[service_times.DIRECTORY] = ctx.options["service_times_dir"]
        return env

    return setup


def _database_url(ctx: ServerContext) -> str:
    """The app's database: the per-run PostgreSQL database, else SQLite in the workdir."""
    return ctx.options.get("app_database_url") or f"sqlite:///{ctx.workdir / 'app.sqlite3'}"


def _app_seed(ctx: ServerContext) -> dict[str, str]:
    return {
        "SCIM_BASE": ctx.options["scim_base"],
        "SCIM_TOKEN": ctx.token,
        "IDS_FILE": ctx.options["ids_file"],
        "SEED_FIRST": "1",
        "SEED_COUNT": str(ctx.options["seeded"]),
        "USERNAME_FORMAT": LUA_USERNAME_FORMAT,
    }


def _app_command(ctx: ServerContext) -> list[str]:
    config = None if ctx.options.get("app_gunicorn_config") == "bench" else APP_GUNICORN_CONFIG
    return gunicorn_command("wsgi:app", ctx, config=config)


def app_operations(names: tuple[str, ...] = ALL_OPERATIONS) -> list[Operation]:
    """The JumpCloud-shaped operations, named and grouped like the references' rows."""
    catalogue = {
        "filter": Operation("filter", "lookup", "scim_filter.lua"),
        "create": Operation("create", "create", "scim_create.lua"),
        "patch": Operation("patch", "patch", "scim_patch.lua"),
        "get": Operation("get", "get", "scim_get.lua"),
        "put": Operation("put", "put", "scim_put.lua"),
        # No warm-up: it would delete ids the measured run then finds gone.
        "delete": Operation("delete", "delete", "scim_delete.lua", warmup=False),
    }
    return [catalogue[name] for name in names]


def app_target(
    name: str = "app", members: int = 1000, extra_per_second: int = 2000, operations: tuple[str, ...] = ALL_OPERATIONS
) -> Target:
    """The app under gunicorn with ``members`` seeded lookup users (+ ids for the writes and delete)."""
    return Target(
        name=name,
        command=_app_command,
        ready_path="/healthz",
        setup=_app_setup(members, extra_per_second),
        seed=_app_seed,
        operations=app_operations(operations),
        ready_timeout=60.0,
    )
