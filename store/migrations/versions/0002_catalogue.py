"""catalogue sync: units, links, pushed state; sync_runs planner columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("catalogue",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("units", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("planned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("cutoff", sa.String(length=40), nullable=True))
        batch.add_column(
            sa.Column("options", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    op.create_index(
        "ix_sync_runs_open", "sync_runs", ["connection_id", "process", "status"], unique=False
    )
    op.create_table(
        "sync_units",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pushed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_units_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_units")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_sync_units_run_id")),
    )
    op.create_index("ix_sync_units_run_status", "sync_units", ["run_id", "status"], unique=False)
    op.create_table(
        "catalogue_links",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("spocc_id", sa.String(length=11), nullable=False),
        sa.Column("variation_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("article_number", sa.String(length=40), nullable=True),
        sa.Column("product_group_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "spocc_id", name=op.f("pk_catalogue_links")),
    )
    op.create_index(
        "ix_catalogue_links_article",
        "catalogue_links",
        ["connection_id", "article_number"],
        unique=False,
    )
    op.create_table(
        "catalogue_state",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "kind", "key", name=op.f("pk_catalogue_state")),
    )


def downgrade() -> None:
    op.drop_table("catalogue_state")
    op.drop_index("ix_catalogue_links_article", table_name="catalogue_links")
    op.drop_table("catalogue_links")
    op.drop_index("ix_sync_units_run_status", table_name="sync_units")
    op.drop_table("sync_units")
    op.drop_index("ix_sync_runs_open", table_name="sync_runs")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("options")
        batch.drop_column("cutoff")
        batch.drop_column("planned")
        batch.drop_column("units")
        batch.drop_column("skipped")
