"""return registered → register the return of its parent order's lines at SPoCC, with the
mapped reason (unmapped → 1 "No reason"); accepted → status 9 on the return order.

The event names the return order (type 3); its parent is found first (once, kept on the
return order's state row) and it is the parent whose lease is taken and that must be
registered. On a return order's own row, `registration` is the state of the return at SPoCC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from clients.errors import Conflict, Unprocessable
from schemas.config import ConnectionConfig
from store.models import EventDelivery, utcnow
from store.order_models import DONE, REFUSED, OrderState
from tasks.orders import bodies, rules
from tasks.orders.engine import Context, OrderTask, run
from tasks.orders.lease import ensure_state
from tasks.orders.ordering import require_registered
from tasks.orders.register import ORDER_RELATIONS
from tasks.orders.wiring import api_clients
from workers import runtime
from workers.declare import spocc_task


def parent_of(conn: ConnectionConfig, delivery: EventDelivery) -> int:
    """The parent order id of the delivery's return order (asked of PlentyONE once)."""
    with runtime.db() as session:
        known = session.execute(select(OrderState.parent_order_id).where(
            OrderState.connection_id == conn.id,
            OrderState.plenty_order_id == delivery.order_id)).scalar_one_or_none()
    if known is not None:
        return int(known)
    order = api_clients(conn)[0].order(delivery.order_id, with_=("orderItems",))
    parent = rules.parent_order_id(order)
    if parent is None:
        raise rules.Invalid(f"order {delivery.order_id} is not a return of another order")
    with runtime.db() as session:
        ensure_state(session, conn.id, delivery.order_id, parent_order_id=parent)
        session.execute(update(OrderState).where(
            OrderState.connection_id == conn.id,
            OrderState.plenty_order_id == delivery.order_id)
            .values(parent_order_id=parent, updated_at=utcnow()))
    return parent


def apply(ctx: Context) -> str:
    return_id = ctx.delivery.order_id
    own = ctx.row(return_id)
    if own.registration == DONE:
        return "done"
    spocc_order_id = require_registered(ctx)
    key = ctx.spocc_key("return", return_id)
    body = ctx.sent_body(key, lambda: rules.return_body(
        ctx.plenty.order(return_id, with_=ORDER_RELATIONS), ctx.conn))
    try:
        ctx.spocc.register_return(spocc_order_id, body, idempotency_key=key)
    except Conflict as exc:
        if exc.code != "idempotency_key_reused" or not _registered(ctx, spocc_order_id,
                                                                   return_id):
            raise
    except Unprocessable as exc:
        bodies.forget(ctx.conn.id, key)
        own.registration = REFUSED
        own.cause = ctx.state.cause = f"SPoCC refused return {return_id}: {exc.code}"
        return "refused"
    own.registration = DONE
    ctx.state.returns += 1
    ctx.state.spocc_status = 18
    ctx.set_status("return_registered", order_id=return_id)
    return "done"


def _registered(ctx: Context, spocc_order_id: str, return_id: int) -> bool:
    """After a lost answer, a reused key means SPoCC has the return: is it there?"""
    order = ctx.spocc.order(spocc_order_id)
    return any(r.get("plentyReturnOrderId") == return_id for r in order.get("returns") or [])


@spocc_task("spocc.orders.returned", queue="orders", base=OrderTask, max_retries=8)
def returned(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply, lock_order_id=parent_of)
