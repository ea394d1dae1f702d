"""beat: heartbeat of the beat that holds the lock

Revision ID: 0040_beat
Revises: 0001
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_beat"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("beat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "beat_heartbeats",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_beat_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("beat_heartbeats")
