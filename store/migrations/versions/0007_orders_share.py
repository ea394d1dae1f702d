"""orders: waiting events by connection, for the order workers' fair shares

Revision ID: 0007_orders_share
Revises: 0004_orders_leases
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_orders_share"
down_revision: str | None = "0004_orders_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_event_deliveries_status_connection", "event_deliveries",
                    ["status", "connection_id"])


def downgrade() -> None:
    op.drop_index("ix_event_deliveries_status_connection", table_name="event_deliveries")
