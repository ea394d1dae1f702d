"""orders: a lease on the order's state row, the status write-back outbox, the stored bodies
of SPoCC calls (one idempotency key, one body)

Revision ID: 0004_orders_leases
Revises: 0003
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_orders_leases"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("order_states") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "order_writebacks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("plenty_order_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.String(length=16), nullable=True),
        sa.Column("tracking", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("written_seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_writebacks")),
        sa.UniqueConstraint("connection_id", "plenty_order_id",
                            name=op.f("uq_order_writebacks_connection_id")),
    )
    op.create_index("ix_order_writebacks_due", "order_writebacks", ["state", "next_attempt_at"])
    op.create_table(
        "spocc_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spocc_requests")),
        sa.UniqueConstraint("connection_id", "idempotency_key",
                            name=op.f("uq_spocc_requests_connection_id")),
    )
    op.create_index("ix_spocc_requests_expires_at", "spocc_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_spocc_requests_expires_at", table_name="spocc_requests")
    op.drop_table("spocc_requests")
    op.drop_index("ix_order_writebacks_due", table_name="order_writebacks")
    op.drop_table("order_writebacks")
    with op.batch_alter_table("order_states") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
