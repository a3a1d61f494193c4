"""The Alembic migration builds the whole schema from an empty database, and agrees with the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db
from portal.models import declared_in_models

pytestmark = pytest.mark.both_databases


def test_migration_from_empty_database_matches_the_models(app):
    # The `database_url` fixture ran `flask db upgrade` on an empty database.
    with app.app_context():
        with db.engine.connect() as conn:
            # The Members search's FTS5 table and trigram index are the migration's own (models.SEARCH_STRUCTURES).
            opts = {"compare_type": True, "include_name": declared_in_models}
            context = MigrationContext.configure(conn, opts=opts)
            assert context.get_current_revision() is not None
            assert compare_metadata(context, db.metadata) == []


def test_every_table_carries_org_id_except_link_tables(app):
    link_tables = {"organizations", "member_departments", "group_members", "banner_dismissals", "password_reset_tokens"}
    # The worker's marks (heartbeat, daily runs) belong to the installation, not to a tenant.
    link_tables.add("job_marks")
    for table in db.metadata.sorted_tables:
        if table.name not in link_tables:
            assert "org_id" in table.c, table.name
