"""order paid → report the payment to SPoCC (after the registration; not after shipping)."""

from __future__ import annotations

from typing import Any

from clients.errors import Conflict, Unprocessable
from store.order_models import DONE, REFUSED
from tasks.orders import bodies, rules
from tasks.orders.engine import Context, OrderTask, run
from tasks.orders.ordering import require_registered
from workers.declare import spocc_task


def apply(ctx: Context) -> str:
    state = ctx.state
    if state.payment == DONE:
        return "done"
    spocc_order_id = require_registered(ctx)
    key = ctx.spocc_key("payment")
    body = ctx.sent_body(key, lambda: rules.payment_body(
        ctx.plenty.order(state.plenty_order_id, with_=("orderItems",))))
    try:
        ctx.spocc.report_payment(spocc_order_id, body, idempotency_key=key)
    except Conflict as exc:
        if exc.code != "idempotency_key_reused" or not _reported(ctx, spocc_order_id, body):
            raise
    except Unprocessable as exc:
        bodies.forget(ctx.conn.id, key)
        state.payment, state.cause = REFUSED, f"SPoCC refused the payment: {exc.code}"
        return "refused"
    state.payment = DONE
    return "done"


def _reported(ctx: Context, spocc_order_id: str, body: dict[str, Any]) -> bool:
    """After a lost answer, a reused key means SPoCC has the payment: is it there?"""
    order = ctx.spocc.order(spocc_order_id)
    return any(p.get("reference") == body.get("reference") for p in order.get("payments") or [])


@spocc_task("spocc.orders.paid", queue="orders", base=OrderTask, max_retries=8)
def paid(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply)
