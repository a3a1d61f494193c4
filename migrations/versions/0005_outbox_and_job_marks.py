"""the outbox the worker drains, job marks (heartbeat, daily runs), a notification's email delivery state

- ``outbox``: a side effect (an email) written in the transaction that caused it; the worker
  claims due rows, sends them, and marks them sent or schedules a retry.
- ``job_marks``: one row per name, e.g. the worker's last heartbeat, read by every host.
- ``notifications.email_status`` and ``email_attempts``: what the console shows ("Email queued",
  "Emailed", "Email failed after N tries"). Existing rows that were emailed count as sent.
- Members, user groups and departments of a sync source deleted before this revision are given
  the Admin Console as data source, as deleting a source now does (issue 12, item 8): until now
  they stayed locked by a source that no longer exists.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_outbox_status")),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_outbox_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_outbox_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next_attempt", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_notification_id"), ["notification_id"], unique=False)

    op.create_table(
        "job_marks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_marks")),
    )

    # Plain ADD COLUMN, not a batch: on SQLite a batch with an expression default copies the table,
    # and dropping a table that other rows reference fails with foreign keys on.
    op.add_column("notifications", sa.Column("email_status", sa.String(length=16), nullable=True))
    op.add_column(
        "notifications", sa.Column("email_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    # Before the outbox, emailed_at was set when the mail was handed over: the best there is to go by.
    op.execute("UPDATE notifications SET email_status = 'sent', email_attempts = 1 WHERE emailed_at IS NOT NULL")

    deleted = "SELECT id FROM sync_sources WHERE deleted_at IS NOT NULL"
    for table, versioned in (("members", True), ("user_groups", True), ("departments", False)):
        bump = ", version = version + 1" if versioned else ""
        op.execute(f"UPDATE {table} SET source_id = NULL{bump} WHERE source_id IN ({deleted})")


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("email_attempts")
        batch_op.drop_column("email_status")
    op.drop_table("job_marks")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_notification_id"))
        batch_op.drop_index("ix_outbox_status_next_attempt")
    op.drop_table("outbox")
