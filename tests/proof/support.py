"""Helpers of the proof tests: SCIM over a real socket, and a snapshot of the directory tables."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from portal.extensions import db

SCIM_JSON = "application/scim+json"

#: the directory's tables a rejected request must leave as they were (sync logs excluded: failures are logged)
DIRECTORY_TABLES = ("members", "departments", "job_titles", "user_groups", "member_departments", "group_members")


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-cased names) and the parsed JSON body, when there is one."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class HttpScim:
    """A SCIM client speaking HTTP/1.1 to a real server, one connection per request (thread-safe)."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Reply:
        """Send one request; never raises for an HTTP error status."""
        all_headers = {"Authorization": f"Bearer {token if token is not None else self.token}", "Accept": SCIM_JSON}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = SCIM_JSON
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, self.prefix + path, body=data, headers=all_headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
        finally:
            connection.close()


def snapshot(app: Any, tables: tuple[str, ...] = DIRECTORY_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, sorted, as plain tuples (what "nothing changed" compares)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with app.app_context():
        metadata = db.metadata
        with db.engine.connect() as conn:
            for name in tables:
                rows = conn.execute(sa.select(metadata.tables[name])).all()
                out[name] = sorted((tuple(row) for row in rows), key=repr)
    return out


def dump_database(app: Any) -> str:
    """Every row of every table of the database, as text (what a leaked secret would show up in)."""
    lines: list[str] = []
    with app.app_context():
        with db.engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    lines.append(f"{table}: {tuple(row)!r}")
    return "\n".join(lines)
