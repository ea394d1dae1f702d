"""The per-order lease: which run may apply an event of an order now, and until when.

A row lock cannot be held across an HTTP call (reliability.md, "Nothing held across the
network"), so sequencing comes from two columns of the order's state row, taken by a
conditional UPDATE and committed at once:

    UPDATE order_states SET lease_owner = :me, lease_until = now + L
     WHERE id = :id AND (lease_owner IS NULL OR lease_owner = :me OR lease_until < now)

One UPDATE decides atomically on both databases (PostgreSQL re-checks the WHERE after a
concurrent writer commits; SQLite has one writer). While the run works, `Renewal` pushes
`lease_until` (and its delivery's `next_attempt_at`, which the sweeper reads as the
delivery's lease) forward every `lease_renew` seconds; a killed worker stops renewing, and
the sweeper sends its event again once the lease ran out. The run records its outcome under
`WHERE lease_owner = :me`: a run that lost its lease records nothing (fencing).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.db import insert_for
from store.models import EventDelivery, utcnow
from store.order_models import OrderState
from workers import runtime

log = logging.getLogger(__name__)


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands DateTime(timezone=True) back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def new_owner(what: str) -> str:
    """A lease owner: what runs (e.g. `d42`) and a token of this run."""
    return f"{what}:{uuid.uuid4().hex[:20]}"


def ensure_state(session: Session, connection_id: str, order_id: int,
                 parent_order_id: int | None = None) -> None:
    """The order's state row exists afterwards (two runs creating it at once make one)."""
    now = utcnow()
    session.execute(
        insert_for(session)(OrderState)
        .values(connection_id=connection_id, plenty_order_id=order_id,
                parent_order_id=parent_order_id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["connection_id", "plenty_order_id"]))


def take(session: Session, connection_id: str, order_id: int, owner: str,
         seconds: float) -> OrderState | None:
    """The order's state row with its lease taken by `owner`, or None while another run
    holds it. The caller commits."""
    ensure_state(session, connection_id, order_id)
    now = utcnow()
    taken = session.execute(
        update(OrderState)
        .where(OrderState.connection_id == connection_id,
               OrderState.plenty_order_id == order_id,
               or_(OrderState.lease_owner.is_(None), OrderState.lease_owner == owner,
                   OrderState.lease_until < now))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds),
                updated_at=OrderState.updated_at)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.execute(
        select(OrderState).where(OrderState.connection_id == connection_id,
                                 OrderState.plenty_order_id == order_id)
        .execution_options(populate_existing=True)).scalar_one()


def give_back(session: Session, state_id: int, owner: str) -> bool:
    """Release the lease if `owner` still holds it; False if it was lost."""
    result = session.execute(
        update(OrderState).where(OrderState.id == state_id, OrderState.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, updated_at=OrderState.updated_at)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def holder(session: Session, connection_id: str, order_id: int
           ) -> tuple[str | None, datetime | None]:
    row = session.execute(select(OrderState.lease_owner, OrderState.lease_until).where(
        OrderState.connection_id == connection_id,
        OrderState.plenty_order_id == order_id)).one_or_none()
    return (row[0], row[1]) if row else (None, None)


class Renewal:
    """Renews a held lease in a thread of its own while the run works (`with Renewal(...)`).

    A renewal that finds the lease taken by another run sets `lost`; a database error is
    logged and tried again at the next tick (the lease has two more ticks to run)."""

    def __init__(self, state_id: int, owner: str, delivery_id: int | None = None) -> None:
        timings = runtime.settings().orders
        self.state_id, self.owner, self.delivery_id = state_id, owner, delivery_id
        self.seconds, self.every = timings.lease, max(1, timings.lease_renew)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{owner}", daemon=True)

    def __enter__(self) -> Renewal:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.renew()
            except Exception:
                log.warning("could not renew lease %s", self.owner, exc_info=True)

    def renew(self) -> None:
        until = utcnow() + timedelta(seconds=self.seconds)
        with runtime.db() as session:
            kept = session.execute(
                update(OrderState)
                .where(OrderState.id == self.state_id, OrderState.lease_owner == self.owner)
                .values(lease_until=until, updated_at=OrderState.updated_at)
                .execution_options(synchronize_session=False))
            if not kept.rowcount:  # type: ignore[attr-defined]
                self.lost = True
                return
            if self.delivery_id is not None:
                session.execute(
                    update(EventDelivery)
                    .where(EventDelivery.id == self.delivery_id,
                           EventDelivery.status == "running")
                    .values(next_attempt_at=until, updated_at=EventDelivery.updated_at)
                    .execution_options(synchronize_session=False))
