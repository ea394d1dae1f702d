"""store: attempts and dead letters name their subject (the work, whatever message carried it)

Revision ID: 0006_subjects
Revises: 0001
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_subjects"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("subjects",)
depends_on: str | Sequence[str] | None = None

UNRESOLVED = sa.text("status IN ('open', 'replayed')")


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
        batch.create_index("ix_attempts_subject", ["subject", "id"])
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolution", sa.Text(), nullable=True))
    # letters from before have no subject (NULL never collides)
    op.create_index(
        "uq_dead_letters_unresolved_subject",
        "dead_letters",
        ["subject"],
        unique=True,
        postgresql_where=UNRESOLVED,
        sqlite_where=UNRESOLVED,
    )


def downgrade() -> None:
    op.drop_index("uq_dead_letters_unresolved_subject", table_name="dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("resolution")
        batch.drop_column("last_failed_at")
        batch.drop_column("subject")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_index("ix_attempts_subject")
        batch.drop_column("subject")
