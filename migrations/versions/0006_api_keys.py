"""API keys for the read API, and the administrators' ``api_keys`` permission

- ``api_keys``: a key of one organization. Only the SHA-256 of its secret is stored: a key is
  32 random bytes (256 bits), so no guessing or precomputed table can find it, and a fast hash
  is enough (a slow password hash such as argon2 guards low-entropy secrets, and would cost
  every API request tens of milliseconds for nothing). The unique hash is the lookup index.
- ``admins.perm_api_keys``: lets an administrator other than the primary manage the keys.
- ``ix_members_org_id`` becomes (org_id, id): the read API pages members by id within an organization
  (keyset, ``id > cursor``), which PostgreSQL then reads from the index in order, without a sort of the
  organization's members per page. It still answers every ``org_id`` lookup the one-column index did.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-28 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by_admin_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_admin_id"],
            ["admins.id"],
            name=op.f("fk_api_keys_created_by_admin_id_admins"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)

    # Plain ADD COLUMN, not a batch: on SQLite a batch with an expression default copies the table,
    # and dropping a table that other rows reference fails with foreign keys on.
    op.add_column("admins", sa.Column("perm_api_keys", sa.Boolean(), server_default=sa.text("false"), nullable=False))

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_org_id")
        batch_op.create_index("ix_members_org_id", ["org_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_org_id")
        batch_op.create_index("ix_members_org_id", ["org_id"], unique=False)
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_column("perm_api_keys")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))
    op.drop_table("api_keys")
