"""What operators did and saw: the audit, each applied configuration, failed HTTP exchanges.

Migration 0004 (branch "operator"). None of these rows holds a secret: revisions keep the
configuration without its secrets (only which secrets were set and which changed), and an
exchange keeps an answer body already cut and scrubbed by `clients.exchange`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId, utcnow


class OperatorAudit(Base):
    """One thing a person did (replayed, discarded, resolved, applied a configuration)."""

    __tablename__ = "operator_audit"
    __table_args__ = (
        Index("ix_operator_audit_at", "at"),
        Index("ix_operator_audit_subject", "subject", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ConfigRevision(Base):
    """One applied revision of a connection's configuration, and who applied it."""

    __tablename__ = "config_revisions"
    __table_args__ = (UniqueConstraint("connection_id", "revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    # the document without secrets, as `connections.config` holds it
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # names (dotted paths) of the secrets set after this revision, and of those it changed
    secrets_set: Mapped[list[str]] = mapped_column(JSON, default=list)
    secrets_changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class HttpExchange(Base):
    """The last HTTP exchange of a failed attempt (and of the dead letter it led to)."""

    __tablename__ = "http_exchanges"
    __table_args__ = (Index("ix_http_exchanges_dead_letter", "dead_letter_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    dead_letter_id: Mapped[int | None] = mapped_column(
        ForeignKey("dead_letters.id", ondelete="CASCADE"), nullable=True
    )
    api: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: no answer
    duration_ms: Mapped[float] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    body_truncated: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
