"""Migration 0005 frees what a source deleted before it still held (issue 12, item 8).

Deleting a source now gives its members, user groups and departments the Admin Console as
data source. Rows of a source deleted earlier were left locked by a source that no longer
exists; the migration releases them, and leaves a live source's rows alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from tests.conftest import _config
from tests.test_unicode_names import fresh_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.both_databases

_NOW = datetime(2026, 1, 1, 12, 0, 0)


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a NOT NULL column the test does not care about, by its type."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.DateTime):
        return _NOW
    if isinstance(kind, sa.JSON):
        return {}
    length = getattr(kind, "length", None) or 32
    return uuid.uuid4().hex[: min(length, 32)]


def _insert(conn: sa.Connection, table: sa.Table, **values: Any) -> None:
    """INSERT a row at revision 0004's schema, filling the required columns not given."""
    for column in table.columns:
        if column.name in values or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and isinstance(column.type, sa.Integer):
            continue
        values[column.name] = _filler(column)
    conn.execute(table.insert().values(**values))


def test_rows_of_a_source_deleted_before_0005_become_admin_console_rows(fresh_url: str) -> None:  # noqa: F811
    app = create_app(_config(fresh_url))
    with app.app_context():
        upgrade(revision="0004")
        meta = sa.MetaData()
        meta.reflect(db.engine)
        with db.engine.begin() as conn:
            _insert(conn, meta.tables["organizations"], id=1, name="Acme", name_norm="acme")
            source = {"org_id": 1, "provider": "okta", "status": "inactive", "deletion_rule": "suspend"}
            _insert(conn, meta.tables["sync_sources"], id=1, name="Old", deleted_at=_NOW, **source)
            _insert(conn, meta.tables["sync_sources"], id=2, name="Live", deleted_at=None, **source)
            _insert(conn, meta.tables["departments"], id=10, org_id=1, source_id=None)  # the one root
            # Rows that reference admins and organizations: a migration that copies either table to alter it
            # (SQLite's batch mode) fails on them with foreign keys on.
            _insert(conn, meta.tables["admins"], id=1, org_id=1, role="primary", email="a@acme.test")
            _insert(conn, meta.tables["password_reset_tokens"], id=1, admin_id=1)
            for source_id in (1, 2):
                member = {"org_id": 1, "source_id": source_id, "version": 3, "status": "active"}
                _insert(conn, meta.tables["members"], id=source_id, **member)
                _insert(conn, meta.tables["user_groups"], id=source_id, org_id=1, source_id=source_id, version=3)
                _insert(conn, meta.tables["departments"], id=source_id, org_id=1, source_id=source_id, parent_id=10)

        upgrade(revision="0005")
        with db.engine.connect() as conn:
            members = conn.execute(sa.text("SELECT id, source_id, version FROM members ORDER BY id")).all()
            groups = conn.execute(sa.text("SELECT id, source_id, version FROM user_groups ORDER BY id")).all()
            departments = conn.execute(sa.text("SELECT id, source_id FROM departments ORDER BY id")).all()
        # And on to head, over the rows that reference every altered table.
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM password_reset_tokens")).scalar() == 1
        db.engine.dispose()

    # The deleted source's rows now have no source (an ETag that moves for members and groups);
    # the live source keeps its own.
    assert [tuple(row) for row in members] == [(1, None, 4), (2, 2, 3)]
    assert [tuple(row) for row in groups] == [(1, None, 4), (2, 2, 3)]
    assert [tuple(row) for row in departments] == [(1, None), (2, 2), (10, None)]
