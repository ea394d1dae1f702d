"""What an operator does to one order: release it past the acceptance rule, re-drive it,
look at it. Used by `spocc orders …` and `spocc resync order`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from store.models import EventDelivery, utcnow
from store.order_models import DONE, HELD, NONE, OrderState
from tasks.orders.claim import FINAL
from tasks.orders.engine import SWEEP_GRACE, enqueue
from workers import runtime


class NoSuchOrder(LookupError):
    pass


@dataclass(frozen=True)
class OrderView:
    state: dict[str, Any]
    deliveries: list[dict[str, Any]]


def _state(session: Any, connection_id: str, order_id: int) -> OrderState | None:
    return session.execute(select(OrderState).where(
        OrderState.connection_id == connection_id,
        OrderState.plenty_order_id == order_id)).scalar_one_or_none()


def show(connection_id: str, order_id: int) -> OrderView:
    with runtime.db() as session:
        state = _state(session, connection_id, order_id)
        rows = session.execute(select(EventDelivery).where(
            EventDelivery.connection_id == connection_id, EventDelivery.order_id == order_id)
            .order_by(EventDelivery.id)).scalars().all()
        if state is None and not rows:
            raise NoSuchOrder(f"order {order_id} of {connection_id} is not known")
        view = {c.key: getattr(state, c.key) for c in OrderState.__table__.columns} \
            if state else {}
        return OrderView(view, [
            {"id": r.id, "event": r.event_type, "status": r.status, "attempts": r.attempts,
             "last_error": r.last_error} for r in rows])


def release(connection_id: str, order_id: int) -> list[int]:
    """A person lets the order through the acceptance rule: it is registered as it is."""
    with runtime.db() as session:
        state = _state(session, connection_id, order_id)
        if state is None:
            raise NoSuchOrder(f"order {order_id} of {connection_id} is not known")
        if state.registration == DONE:
            return []
        state.released = True
        if state.registration == HELD:
            state.registration = NONE
    return resync(connection_id, order_id)


def resync(connection_id: str, order_id: int) -> list[int]:
    """Re-drive the order from its current state: every unfinished event is sent again; an
    order never registered gets a registration event. Returns the delivery ids sent."""
    runtime.connection(connection_id)  # raises for an unknown connection
    sent: list[tuple[str, int]] = []
    with runtime.db() as session:
        rows = session.execute(select(EventDelivery).where(
            EventDelivery.connection_id == connection_id,
            EventDelivery.order_id == order_id)).scalars().all()
        state = _state(session, connection_id, order_id)
        registered = state is not None and state.registration == DONE
        has_registration = any(r.event_type == "order-registered" for r in rows)
        is_return = state is not None and state.parent_order_id is not None
        if not registered and not has_registration and not is_return:
            row = EventDelivery(connection_id=connection_id, event_type="order-registered",
                                order_id=order_id, payload={"orderId": order_id,
                                                            "source": "resync"},
                                status="pending", next_attempt_at=utcnow() + SWEEP_GRACE)
            session.add(row)
            session.flush()
            sent.append((row.event_type, row.id))
        for row in rows:
            if row.status in FINAL and not (row.event_type == "order-registered"
                                            and row.status == "refused"):
                continue
            row.status, row.next_attempt_at = "pending", utcnow() + SWEEP_GRACE
            sent.append((row.event_type, row.id))
    for event, delivery_id in sent:
        enqueue(event, connection_id, delivery_id)
    return [d for _, d in sent]


# The event procedures that connect a PlentyONE system to the receiver, as the setup
# assistant describes them: trigger → event. Statuses are the wemalo conventions' defaults.
PROCEDURES: tuple[tuple[str, float | None, str], ...] = (
    ("new_order", None, "order-registered"),
    ("status_change", 11.0, "order-paid"),
    ("status_change", 6.0, "shipping-documents"),
    ("new_return", None, "return-registered"),
    ("status_change", 8.0, "order-cancelled"),
)


def event_procedures(receiver_url: str, connection_id: str, token: str,
                     referrer_ids: list[float] | None = None) -> list[dict[str, Any]]:
    """PlentyONE event procedures (sandbox admin format) whose *Open URL* action calls the
    receiver with the order id and the connection's token in the URL."""
    out = []
    for trigger, status, event in PROCEDURES:
        procedure: dict[str, Any] = {
            "name": f"SPoCC: {event}", "trigger": trigger, "method": "POST",
            "url": f"{receiver_url.rstrip('/')}/hooks/{connection_id}/{event}"
                   "?orderId=[OrderID]",
            "auth": {"queryToken": token},
        }
        if status is not None:
            procedure["statusId"] = status
        if referrer_ids:
            procedure["referrerIds"] = referrer_ids
        out.append(procedure)
    return out
