"""Step 2 of an order event's run (`engine.py`): decide and commit, before any HTTP call.

One short transaction re-reads the delivery, counts the attempt on its row (so the cap holds
across the sweeper's new task ids), checks the connection's fair share of the order workers
(`share.py`) and takes the order's lease (`lease.py`). Nothing is held once it commits.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from store.models import EventDelivery, utcnow
from store.order_models import OrderState
from tasks.orders import lease, share
from workers import runtime

# Delivery statuses that are final: the sweeper leaves them alone, a redelivery skips them.
FINAL = ("done", "refused", "blocked")


def claim(connection_id: str, delivery_id: int, target: int, owner: str, fair_share: int
          ) -> tuple[str, EventDelivery | None, OrderState | None]:
    """Lease the order and mark the delivery running, committed at once. Returns
    ("run", delivery, state) | ("cap", delivery, None) | ("busy" | "final" | "running", None,
    None); "busy" also when the connection yields its worker to another (`share.py`)."""
    seconds = runtime.settings().orders.lease
    now = utcnow()
    with runtime.db() as session:
        delivery = session.get(EventDelivery, delivery_id)
        if delivery is None or delivery.status in FINAL:
            return "final", None, None
        if delivery.status == "running" and delivery.next_attempt_at is not None \
                and lease.aware(delivery.next_attempt_at) > now:
            return "running", None, None  # another run has it, while its lease lasts
        if delivery.attempts >= runtime.settings().attempt_cap:
            session.expunge(delivery)
            return "cap", delivery, None
        if share.yields(session, connection_id, fair_share, now):
            return "busy", None, None
        state = lease.take(session, connection_id, target, owner, seconds)
        if state is None:
            return "busy", None, None
        claimed = session.execute(
            update(EventDelivery)
            .where(EventDelivery.id == delivery_id, EventDelivery.status.not_in(FINAL))
            .values(status="running", attempts=EventDelivery.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=seconds),
                    last_error=f"attempt did not finish (worker lost or killed), "
                               f"started {now:%Y-%m-%d %H:%M:%S} UTC")
            .execution_options(synchronize_session=False))
        if not claimed.rowcount:  # type: ignore[attr-defined]
            lease.give_back(session, state.id, owner)
            return "final", None, None
        delivery = session.get(EventDelivery, delivery_id, populate_existing=True)
        assert delivery is not None
        session.expunge(delivery)
        session.expunge(state)
        return "run", delivery, state


def lease_left(delivery_id: int) -> float:
    """Seconds left of the lease another run holds on the delivery."""
    with runtime.db() as session:
        until = session.execute(select(EventDelivery.next_attempt_at).where(
            EventDelivery.id == delivery_id)).scalar_one_or_none()
    return 0.0 if until is None else max(0.0, (lease.aware(until) - utcnow()).total_seconds())
