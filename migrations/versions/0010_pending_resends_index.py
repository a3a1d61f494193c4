"""the resends waiting for a webhook endpoint, by a partial index

Every claim of an endpoint first looks for its pending resends. Through
``ix_webhook_deliveries_endpoint`` that walked the endpoint's whole delivery log (a row per try, so a
row per event delivered): during an initial sync of 100,000 users, a quarter of the job worker's time.
``ix_webhook_deliveries_pending`` holds the pending rows only.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-09 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def upgrade():
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["endpoint_id", "id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade():
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
