"""return registered → register the return of its parent order's lines at SPoCC, with the
mapped reason (unmapped → 1 "No reason"); accepted → status 9 on the return order.

The event names the return order (type 3); its parent is found first (once, kept on the
return order's state row) and it is the parent that is locked and must be registered.
On a return order's own row, `registration` is the state of the return at SPoCC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clients.errors import Unprocessable
from schemas.config import ConnectionConfig
from store.models import EventDelivery, utcnow
from store.order_models import DONE, REFUSED, OrderState
from tasks.orders import rules
from tasks.orders.engine import Context, OrderTask, _clients, lock_order, run
from tasks.orders.ordering import require_registered
from tasks.orders.register import ORDER_RELATIONS
from workers import runtime
from workers.task_base import spocc_task


def parent_of(conn: ConnectionConfig, delivery: EventDelivery) -> int:
    """The parent order id of the delivery's return order (asked of PlentyONE once)."""
    with runtime.db() as session:
        known = session.execute(select(OrderState.parent_order_id).where(
            OrderState.connection_id == conn.id,
            OrderState.plenty_order_id == delivery.order_id)).scalar_one_or_none()
    if known is not None:
        return int(known)
    order = _clients(conn)[0].order(delivery.order_id, with_=("orderItems",))
    parent = rules.parent_order_id(order)
    if parent is None:
        raise rules.Invalid(f"order {delivery.order_id} is not a return of another order")
    with runtime.db() as session:
        row = lock_order(session, conn.id, delivery.order_id, parent_order_id=parent)
        row.parent_order_id, row.updated_at = parent, utcnow()
    return parent


def apply(ctx: Context) -> str:
    return_id = ctx.delivery.order_id
    own = lock_order(ctx.session, ctx.conn.id, return_id)
    if own.registration == DONE:
        return "done"
    spocc_order_id = require_registered(ctx)
    order = ctx.plenty.order(return_id, with_=ORDER_RELATIONS)
    body = rules.return_body(order, ctx.conn)
    try:
        ctx.spocc.register_return(spocc_order_id, body,
                                  idempotency_key=ctx.spocc_key("return", return_id))
    except Unprocessable as exc:
        own.registration = REFUSED
        own.cause = ctx.state.cause = f"SPoCC refused return {return_id}: {exc.code}"
        return "refused"
    own.registration = DONE
    ctx.state.returns += 1
    ctx.state.spocc_status = 18
    ctx.set_status("return_registered", order_id=return_id)
    own.plenty_status = ctx.conn.status("return_registered")
    return "done"


@spocc_task("spocc.orders.returned", queue="orders", base=OrderTask, max_retries=8)
def returned(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply, lock_order_id=parent_of)
