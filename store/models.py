"""The tables. Everything is scoped by connection (one retailer's SPoCC + PlentyONE pair).

Rows keep ids, outcomes and error text; customer data (addresses, names) is never stored
here — workers fetch the order from PlentyONE when they need it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every `Mapped[datetime]` column of every model is aware UTC, on SQLite too.
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON}


class Connection(Base):
    """A retailer's SPoCC + PlentyONE pair and its whole (non-secret) configuration."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_processes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConnectionSecret(Base):
    """Write-only credentials: encrypted at rest, decrypted only where they go on the wire."""

    __tablename__ = "connection_secrets"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("connection_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class EventDelivery(Base):
    """One order event as accepted by the receiver: the unit a task is handed by id."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        Index("ix_event_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_event_deliveries_order", "connection_id", "order_id"),
        # the connections with events waiting (tasks/orders/share.py)
        Index("ix_event_deliveries_status_connection", "status", "connection_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending → running → done | held (waits for its predecessor) | failed (retrying) | dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """One execution of one task message (Saleor's EventDeliveryAttempt, for every task).

    `subject` names the work (`delivery:42`, `unit:7`) whatever message carried it: counting
    a subject's crashes, time-outs and failures across task ids caps work that keeps killing
    its worker, even when a sweeper re-sends it under new ids (store/attempts.py).
    """

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_task_id", "task_id"),
        Index("ix_attempts_subject", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64))
    task_name: Mapped[str] = mapped_column(String(200))
    connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_deliveries.id", ondelete="CASCADE"), nullable=True, index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # running → success | retry | failed | soft_timeout | timeout (hard limit) | lost (worker
    # died) | deferred | poison (refused at the cap)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)


class SyncRun(Base):
    """One run of a periodic process; (connection, process, slot) is its idempotency key."""

    __tablename__ = "sync_runs"
    __table_args__ = (UniqueConstraint("connection_id", "process", "slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16), default="beat")
    status: Mapped[str] = mapped_column(String(16), default="running")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    found: Mapped[int] = mapped_column(Integer, default=0)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # catalogue (migration 0002): units planned, variations skipped (blocked, unmatched),
    # planner done, SPoCC cut-off (next delta's changedSince), run options and planner cursor
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[bool] = mapped_column(Boolean, default=False)
    cutoff: Mapped[str | None] = mapped_column(String(40), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # catalogue (migration 0005): the planner's lease; past it, the sweeper sends it again
    planner_until: Mapped[datetime | None] = mapped_column(nullable=True)


class DeadLetter(Base):
    """A task that exhausted its retries: what an operator sees, replays or discards.

    One unresolved letter per subject: later failures of the same work (a replay that fails
    again, a re-sent message) update it; later success on the subject resolves it.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_status", "status", "created_at"),
        Index(
            "uq_dead_letters_unresolved_subject",
            "subject",
            unique=True,
            postgresql_where=text("status IN ('open', 'replayed')"),
            sqlite_where=text("status IN ('open', 'replayed')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task_name: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(40))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    # open → replayed (a new task was sent) → resolved (it succeeded) | discarded;
    # a replay that fails again is open again
    status: Mapped[str] = mapped_column(String(16), default="open")
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    replay_task_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
