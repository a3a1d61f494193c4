"""onboarding and recovery: a forced password change, and the wizard's entries on the draft source

- ``admins.must_change_password``: set when an administrator gets an initial password (added with one,
  reset to one, the demo's), cleared when they choose their own; until then every console page sends
  them to the change form.
- ``sync_sources.wizard_state``: what the Add sync source wizard (or an Edit of a source) was given
  before its Save, kept on the source rather than in the session cookie, so "Continue setup" works in
  another browser. SCIM never reads it: a source's settings change only on Save.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-08 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, not a batch: on SQLite a batch with an expression default copies the table,
    # and dropping a table that other rows reference fails with foreign keys on.
    op.add_column(
        "admins", sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("sync_sources", sa.Column("wizard_state", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("sync_sources", schema=None) as batch_op:
        batch_op.drop_column("wizard_state")
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
