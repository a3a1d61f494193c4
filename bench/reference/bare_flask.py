"""The framework ceiling: a bare Flask 3.1 app on plain SQLAlchemy 2.

It does the least work each SCIM operation of the real app must also do, so
the app's figures can be read as a fraction of it:

* ``POST /echo``: parse a JSON body and serialise it back (no database).
* ``GET /select?u=...``: one SELECT by a unique, indexed column.
* ``POST /insert``: one INSERT of a unique value, then COMMIT.
* ``GET /healthz``: readiness probe for the bench runner.

The database comes from ``DATABASE_URL`` (default: a SQLite file in the
temporary directory). SQLite runs in WAL mode with a busy timeout, so the two
gunicorn workers can write concurrently; ``postgresql+psycopg://...`` works
as is. Serve it the way the app is served::

    gunicorn -w 2 -b 127.0.0.1:8000 bench.reference.bare_flask:app

The table must exist first: ``python -m bench.reference.bare_flask seed``
(the bench runner does this before it starts gunicorn, so the workers never
race to create it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from flask import Flask, abort, jsonify, request
from sqlalchemy import Engine, String, create_engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.scim_payloads import DEFAULT_USERNAME_FORMAT


class Base(DeclarativeBase):
    """Declarative base of the reference schema."""


class BenchRow(Base):
    """One row per seeded or inserted value; ``u`` is unique and indexed."""

    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    u: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    payload: Mapped[str] = mapped_column(String(255), default="")


def default_database_url() -> str:
    """Return ``DATABASE_URL``, or a SQLite file in the temporary directory."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(tempfile.gettempdir()) / 'bench-bare-flask.sqlite3'}"


def make_engine(database_url: str) -> Engine:
    """Create an engine; SQLite connections get WAL, a busy timeout and NORMAL sync.

    WAL lets readers run while a writer commits; the busy timeout makes a
    second writer wait instead of failing with "database is locked";
    synchronous=NORMAL is the usual pairing with WAL (durable across app
    crashes, fsync only at checkpoints). ``SQLITE_SYNCHRONOUS`` overrides it
    so the ceiling can match whatever the app chooses.
    """
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").upper()
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"SQLITE_SYNCHRONOUS must be OFF/NORMAL/FULL/EXTRA, not {synchronous}")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

    return engine


def seed(database_url: str, rows: int, username_format: str = DEFAULT_USERNAME_FORMAT) -> int:
    """Recreate ``bench_rows`` holding ``user1..userN``; return the row count.

    The table is dropped first so every run starts from the same state; it
    belongs to the bench only.
    """
    engine = make_engine(database_url)
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        batch = 5000
        with engine.begin() as connection:
            for start in range(1, rows + 1, batch):
                stop = min(start + batch, rows + 1)
                connection.execute(
                    insert(BenchRow),
                    [{"u": username_format.format(n=n), "payload": "Engineering"} for n in range(start, stop)],
                )
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(BenchRow)) or 0)
    finally:
        engine.dispose()


def create_app(database_url: str | None = None) -> Flask:
    """Build the reference app on ``database_url`` (default: ``default_database_url()``)."""
    app = Flask(__name__)
    engine = make_engine(database_url or default_database_url())
    app.extensions["bench_engine"] = engine

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    @app.post("/echo")
    def echo():  # type: ignore[no-untyped-def]
        return jsonify(request.get_json())

    @app.get("/select")
    def select_one():  # type: ignore[no-untyped-def]
        value = request.args.get("u", "")
        with Session(engine) as session:
            row = session.scalars(select(BenchRow).where(BenchRow.u == value)).one_or_none()
            if row is None:
                abort(404)
            return {"id": row.id, "u": row.u, "payload": row.payload}

    @app.post("/insert")
    def insert_one():  # type: ignore[no-untyped-def]
        body = request.get_json()
        if not isinstance(body, dict) or not isinstance(body.get("u"), str):
            abort(400)
        try:
            with Session(engine) as session, session.begin():
                row = BenchRow(u=body["u"], payload=str(body.get("payload", "")))
                session.add(row)
                session.flush()
                row_id = row.id
        except IntegrityError:
            abort(409)
        return {"id": row_id, "u": body["u"]}, 201

    return app


app = create_app()


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m bench.reference.bare_flask seed [--rows N] [--database-url URL]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    seed_parser = sub.add_parser("seed", help="recreate bench_rows with user1..userN")
    seed_parser.add_argument("--rows", type=int, default=10000)
    seed_parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if args.command == "seed":
        count = seed(args.database_url or default_database_url(), args.rows)
        print(f"bench_rows holds {count} rows")


if __name__ == "__main__":
    main()
