"""fold refused requests: one sync log row per source, reason and minute, with a repeat count

A refused SCIM request at a source's URL (401, 403, 429) leaves a sync log row; a
flood of them folds into one row per source, refusal reason and minute. The row
keeps its first request's time, counts the requests in ``repeat_count`` and the
last one's time in ``last_seen_at``; ``fold_key`` ("<source id>:<reason>:<minute>")
is what the folding INSERT ... ON CONFLICT targets. Its unique index is partial:
only refusal rows have a key, and every other row (each SCIM write) skips it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_KEYED = sa.text("fold_key IS NOT NULL")


def upgrade():
    op.add_column("sync_logs", sa.Column("repeat_count", sa.Integer(), server_default=sa.text("1"), nullable=False))
    op.add_column("sync_logs", sa.Column("last_seen_at", sa.DateTime(), nullable=True))
    op.add_column("sync_logs", sa.Column("fold_key", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_sync_logs_fold_key", "sync_logs", ["fold_key"], unique=True, sqlite_where=_KEYED, postgresql_where=_KEYED
    )


def downgrade():
    op.drop_index("ix_sync_logs_fold_key", table_name="sync_logs")
    with op.batch_alter_table("sync_logs", schema=None) as batch_op:
        batch_op.drop_column("fold_key")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("repeat_count")
