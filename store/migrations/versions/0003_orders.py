"""orders: per-order state

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("orders",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_states",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("plenty_order_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_order_id", sa.BigInteger(), nullable=True),
        sa.Column("spocc_order_id", sa.String(length=40), nullable=True),
        sa.Column("registration", sa.String(length=16), nullable=False),
        sa.Column("payment", sa.String(length=16), nullable=False),
        sa.Column("shipping_documents", sa.String(length=16), nullable=False),
        sa.Column("cancellation", sa.String(length=16), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("spocc_status", sa.Integer(), nullable=True),
        sa.Column("plenty_status", sa.String(length=16), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_states")),
        sa.UniqueConstraint(
            "connection_id", "plenty_order_id", name=op.f("uq_order_states_connection_id")
        ),
    )
    op.create_index("ix_order_states_open", "order_states", ["connection_id", "open", "id"])
    op.create_index(
        "ix_order_states_parent", "order_states", ["connection_id", "parent_order_id"]
    )
    op.create_index("ix_order_states_updated", "order_states", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_order_states_updated", table_name="order_states")
    op.drop_index("ix_order_states_parent", table_name="order_states")
    op.drop_index("ix_order_states_open", table_name="order_states")
    op.drop_table("order_states")
