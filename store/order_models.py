"""Per-order state: what the connector did with each PlentyONE order, event by event.

Kept far longer than idempotency keys (retention `order_state_seconds`, default 180 days):
it is what makes a late duplicate, a replay or a `spocc resync order` a no-op for the work
already done. The row also carries the per-order lease (`lease_owner`, `lease_until`): an
event task takes it with a conditional UPDATE and renews it while it runs, so two events of
one order never run at once, and no row lock is held while it talks to SPoCC.

`OrderWriteback` is the outbox of status write-backs to PlentyONE (one row per PlentyONE
order, the newest outcome wins); `SpoccRequest` keeps the body sent under each SPoCC
idempotency key, encrypted, for as long as the key lives.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId, utcnow

# The state of one event of an order (`registration`, `payment`, ...):
#   none → done | refused (SPoCC said no, a person must look: see `cause`)
#   registration also: held (waits for a mapping or a person) | blocked (export rule)
#                      | failed (rejected or retries exhausted: status 6.x was set)
NONE = "none"
DONE = "done"
REFUSED = "refused"
HELD = "held"
BLOCKED = "blocked"
FAILED = "failed"


class OrderState(Base):
    __tablename__ = "order_states"
    __table_args__ = (
        UniqueConstraint("connection_id", "plenty_order_id"),
        Index("ix_order_states_open", "connection_id", "open", "id"),
        Index("ix_order_states_parent", "connection_id", "parent_order_id"),
        Index("ix_order_states_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    plenty_order_id: Mapped[int] = mapped_column(BigInteger)
    # A return order (type 3) points at the order it returns; its events lock the parent.
    parent_order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    spocc_order_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    registration: Mapped[str] = mapped_column(String(16), default=NONE)
    payment: Mapped[str] = mapped_column(String(16), default=NONE)
    shipping_documents: Mapped[str] = mapped_column(String(16), default=NONE)
    cancellation: Mapped[str] = mapped_column(String(16), default=NONE)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    # Registered at SPoCC and neither shipped nor cancelled: the status poll asks about it.
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    spocc_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    plenty_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Why the order waits or was refused, in words an operator can act on.
    cause: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A person let the order through the acceptance rule (`spocc orders release`).
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who runs an event of this order now, and until when (renewed while it runs).
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The state of a write-back: pending (to write, or written with a newer outcome queued)
# → done | dead (failing past its horizon, or refused for good: a dead letter says why).
PENDING = "pending"
DEAD = "dead"


class OrderWriteback(Base):
    """What PlentyONE should show for one order: the newest outcome's status (and tracking
    number), written by its own retried task. `seq` counts outcomes; the write that carried
    `seq` sets `written_seq`, so a write of an older outcome never marks a newer one done."""

    __tablename__ = "order_writebacks"
    __table_args__ = (
        UniqueConstraint("connection_id", "plenty_order_id"),
        Index("ix_order_writebacks_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    plenty_order_id: Mapped[int] = mapped_column(BigInteger)
    status_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    tracking: Mapped[str | None] = mapped_column(String(100), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    written_seq: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The first failure of the current outcome: the horizon counts from here.
    failing_since: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SpoccRequest(Base):
    """The body first sent under a SPoCC idempotency key (Fernet-encrypted: it holds names
    and addresses), resent byte for byte on every retry; reaped with the key's lifetime."""

    __tablename__ = "spocc_requests"
    __table_args__ = (UniqueConstraint("connection_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
