"""catalogue: leases on units and planners, lost starts counted on the unit

Revision ID: 0005_catalogue_leases
Revises: 0002
Create Date: 2026-12-01 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_catalogue_leases"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_units") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lost", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(
        "ix_sync_units_status_lease", "sync_units", ["status", "lease_until"], unique=False
    )
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(
            sa.Column("planner_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("planner_until")
    op.drop_index("ix_sync_units_status_lease", table_name="sync_units")
    with op.batch_alter_table("sync_units") as batch:
        batch.drop_column("lost")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
