"""The order sweeper (beat, every `SPOCC_ORDERS_SWEEP_SECONDS`, 15 s): the database, not the
broker, says what is left.

Every event delivery that is not finished and whose `next_attempt_at` has come is sent
again: a crash between commit and enqueue, a broker that lost its queue, a held event whose
time has come. A running delivery's `next_attempt_at` is its lease, renewed while its worker
runs; once it ran out the worker is gone (killed, or its machine), and the delivery goes
back to pending and is sent again — whatever the broker holds. The same for status
write-backs whose time came. Sending twice is harmless: a task skips a finished delivery,
and the order's lease serialises the rest. Then held events past their horizon become dead
letters (`health.py`), and old order state rows and stored SPoCC bodies are reaped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from store.models import EventDelivery, utcnow
from store.order_models import OrderState
from tasks.orders import bodies, health, writeback
from tasks.orders.engine import SWEEP_GRACE
from tasks.orders.wiring import enqueue, enqueue_writeback
from workers import runtime
from workers.declare import spocc_task

DUE = ("pending", "running", "failed", "held")
BATCH = 1000


def due_deliveries(limit: int = BATCH) -> list[tuple[str, str, int]]:
    """(event, connection, id) of the deliveries to send again; pushes their next time.
    A running one here has an expired lease: it is pending again."""
    now = utcnow()
    with runtime.db() as session:
        rows = session.execute(
            select(EventDelivery.id, EventDelivery.event_type, EventDelivery.connection_id,
                   EventDelivery.status)
            .where(EventDelivery.status.in_(DUE), EventDelivery.next_attempt_at <= now)
            .order_by(EventDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            session.execute(update(EventDelivery)
                            .where(EventDelivery.id.in_([r.id for r in rows]))
                            .values(next_attempt_at=now + SWEEP_GRACE)
                            .execution_options(synchronize_session=False))
            lost = [r.id for r in rows if r.status == "running"]
            if lost:
                session.execute(update(EventDelivery)
                                .where(EventDelivery.id.in_(lost),
                                       EventDelivery.status == "running")
                                .values(status="pending")
                                .execution_options(synchronize_session=False))
    return [(r.event_type, r.connection_id, r.id) for r in rows]


def reap_order_states(now: Any = None) -> int:
    keep = timedelta(seconds=runtime.settings().retention.order_state_seconds)
    with runtime.db() as session:
        result = session.execute(delete(OrderState).where(
            OrderState.updated_at < (now or utcnow()) - keep, OrderState.open.is_(False)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@spocc_task("spocc.orders.sweep", queue="orders", max_retries=1, periodic=True)
def sweep(self: Any) -> dict[str, int]:
    sent = 0
    for event, connection_id, delivery_id in due_deliveries():
        enqueue(event, connection_id, delivery_id)
        sent += 1
    written = 0
    for connection_id, writeback_id in writeback.due():
        enqueue_writeback(connection_id, writeback_id)
        written += 1
    return {"sent": sent, "writebacks": written, "expired": health.expire_held(),
            "reaped": reap_order_states() + bodies.reap()}
