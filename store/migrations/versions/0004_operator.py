"""operator: audit, configuration revisions, HTTP exchanges of failed attempts

Revision ID: 0004_operator
Revises: 0001
Create Date: 2026-12-01 20:30:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004_operator"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("operator",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operator_audit",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_audit")),
    )
    op.create_index("ix_operator_audit_at", "operator_audit", ["at"])
    op.create_index("ix_operator_audit_subject", "operator_audit", ["subject", "at"])
    revisions = op.create_table(
        "config_revisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets_set", sa.JSON(), nullable=False),
        sa.Column("secrets_changed", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_revisions")),
        sa.UniqueConstraint(
            "connection_id", "revision", name=op.f("uq_config_revisions_connection_id")
        ),
    )
    op.create_table(
        "http_exchanges",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.BigInteger(), nullable=True),
        sa.Column("dead_letter_id", sa.BigInteger(), nullable=True),
        sa.Column("api", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("route", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_http_exchanges_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dead_letter_id"],
            ["dead_letters.id"],
            name=op.f("fk_http_exchanges_dead_letter_id_dead_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_http_exchanges")),
    )
    op.create_index("ix_http_exchanges_attempt_id", "http_exchanges", ["attempt_id"])
    op.create_index(
        "ix_http_exchanges_dead_letter", "http_exchanges", ["dead_letter_id", "id"]
    )
    # What is stored today becomes the first recorded revision of each connection, so the
    # first change after this migration has something to be compared with.
    rows = op.get_bind().execute(
        sa.text("SELECT id, revision, config, updated_at FROM connections")
    ).all()
    secrets = op.get_bind().execute(
        sa.text("SELECT connection_id, name FROM connection_secrets")
    ).all()
    names: dict[str, list[str]] = {}
    for conn_id, name in secrets:
        names.setdefault(conn_id, []).append(name)
    op.bulk_insert(
        revisions,
        [
            {
                "connection_id": conn_id,
                "revision": rev,
                "actor": "(before history was kept)",
                "config": _json(config),
                "secrets_set": sorted(names.get(conn_id, [])),
                "secrets_changed": [],
                "applied_at": _when(updated_at),
            }
            for conn_id, rev, config, updated_at in rows
        ],
    )


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _when(value: object) -> datetime:
    # raw SQL gives SQLite's text, PostgreSQL's datetime
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(when, datetime)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def downgrade() -> None:
    op.drop_index("ix_http_exchanges_dead_letter", table_name="http_exchanges")
    op.drop_index("ix_http_exchanges_attempt_id", table_name="http_exchanges")
    op.drop_table("http_exchanges")
    op.drop_table("config_revisions")
    op.drop_index("ix_operator_audit_subject", table_name="operator_audit")
    op.drop_index("ix_operator_audit_at", table_name="operator_audit")
    op.drop_table("operator_audit")
