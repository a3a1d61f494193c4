"""lighter member indexes: partial where values are rare, no unused (org_id, name)

Every SCIM create wrote a page of each of the members table's indexes; four of
them index columns a typical push leaves empty (externalId, mobile, manager,
userType) and one (org_id, name) no query uses (searches and sorts go through
name_norm). The four become partial indexes of the rows that have a value, the
fifth is dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 04:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PARTIAL = (
    ("ix_members_org_scim_external_id", ["org_id", "scim_external_id"]),
    ("ix_members_org_mobile", ["org_id", "mobile"]),
    ("ix_members_manager_id", ["manager_id"]),
    ("ix_members_employee_type_id", ["employee_type_id"]),
)


def upgrade():
    for name, columns in _PARTIAL:
        present = sa.text(f"{columns[-1]} IS NOT NULL")
        op.drop_index(name, table_name="members")
        op.create_index(name, "members", columns, unique=False, sqlite_where=present, postgresql_where=present)
    op.drop_index("ix_members_org_name", table_name="members")


def downgrade():
    op.create_index("ix_members_org_name", "members", ["org_id", "name"], unique=False)
    for name, columns in _PARTIAL:
        op.drop_index(name, table_name="members")
        op.create_index(name, "members", columns, unique=False)
