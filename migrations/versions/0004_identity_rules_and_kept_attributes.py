"""identity rules per source, kept multi-valued attributes, externalId per source, Unicode-safe names

- ``sync_sources.username_is_email``: the rule "userName must equal the work email", on for
  existing JumpCloud sources (the seed's rule for JumpCloud), off for every other provider.
- ``members.email`` is optional (a user without mail, RFC 7643 requires only userName).
- ``members.emails``, ``phone_numbers``, ``addresses``: the multi-valued attributes as sent.
- ``members.employee_id_norm``: employee IDs compare like userName and email.
- ``uq_members_source_scim_external_id``: externalId is unique among a source's members.
- Every ``*_norm`` column is computed again with ``models.norm`` (NFKC, case folding,
  zero-width characters removed). Rows that would then share a unique name are reported
  and the upgrade refuses to run: ``flask directory check-names`` lists them beforehand.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:00:00

"""

import sqlalchemy as sa
from alembic import op

from portal.core.unique import NORMALIZED_COLUMNS, norm_collisions
from portal.models import norm

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_HAS_EXTERNAL_ID = sa.text("scim_external_id IS NOT NULL")


def _refuse_collisions(connection: sa.Connection) -> None:
    collisions = norm_collisions(connection, norm)
    if collisions:
        raise RuntimeError(
            "These names would be one name once compared after Unicode normalization (NFKC, case folding, "
            "zero-width characters removed); rename or remove all but one of each, then run "
            "'flask db upgrade' again:\n  " + "\n  ".join(collisions)
        )


def _refold(connection: sa.Connection) -> None:
    for table, norm_column, column, _scope in NORMALIZED_COLUMNS:
        rows = connection.execute(sa.text(f"SELECT id, {column}, {norm_column} FROM {table}")).all()
        changed = [{"id": row[0], "folded": norm(row[1])} for row in rows if norm(row[1]) != row[2]]
        if changed:
            connection.execute(sa.text(f"UPDATE {table} SET {norm_column} = :folded WHERE id = :id"), changed)


def upgrade():
    # Before any DDL: SQLite does not roll DDL back, so a refusal must leave the database at 0003.
    _refuse_collisions(op.get_bind())
    op.add_column(
        "sync_sources",
        sa.Column("username_is_email", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute("UPDATE sync_sources SET username_is_email = true WHERE provider = 'jumpcloud'")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=True)
        batch_op.alter_column("email_norm", existing_type=sa.String(length=320), nullable=True)
        batch_op.add_column(sa.Column("employee_id_norm", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("emails", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("phone_numbers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("addresses", sa.JSON(), nullable=True))
        batch_op.drop_constraint("uq_members_org_id_employee_id", type_="unique")
    _refold(op.get_bind())
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_members_org_id_employee_id_norm", ["org_id", "employee_id_norm"])
        batch_op.create_index(
            "uq_members_source_scim_external_id",
            ["source_id", "scim_external_id"],
            unique=True,
            sqlite_where=_HAS_EXTERNAL_ID,
            postgresql_where=_HAS_EXTERNAL_ID,
        )


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("uq_members_source_scim_external_id")
        batch_op.drop_constraint("uq_members_org_id_employee_id_norm", type_="unique")
        batch_op.create_unique_constraint("uq_members_org_id_employee_id", ["org_id", "employee_id"])
        batch_op.drop_column("addresses")
        batch_op.drop_column("phone_numbers")
        batch_op.drop_column("emails")
        batch_op.drop_column("employee_id_norm")
        batch_op.alter_column("email_norm", existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=False)
    with op.batch_alter_table("sync_sources", schema=None) as batch_op:
        batch_op.drop_column("username_is_email")
