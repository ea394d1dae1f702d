"""Per-order state: what the connector did with each PlentyONE order, event by event.

Kept far longer than idempotency keys (retention `order_state_seconds`, default 180 days):
it is what makes a late duplicate, a replay or a `spocc resync order` a no-op for the work
already done. The row is also the per-order lock: every event task of one order holds it
`FOR UPDATE` while it talks to SPoCC, so two events of one order never run at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
