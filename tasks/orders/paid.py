"""order paid → report the payment to SPoCC (after the registration; not after shipping)."""

from __future__ import annotations

from typing import Any

from clients.errors import Unprocessable
from store.order_models import DONE, REFUSED
from tasks.orders import rules
from tasks.orders.engine import Context, OrderTask, run
from tasks.orders.ordering import require_registered
from workers.task_base import spocc_task


def apply(ctx: Context) -> str:
    state = ctx.state
    if state.payment == DONE:
        return "done"
    spocc_order_id = require_registered(ctx)
    order = ctx.plenty.order(state.plenty_order_id, with_=("orderItems",))
    try:
        ctx.spocc.report_payment(spocc_order_id, rules.payment_body(order),
                                 idempotency_key=ctx.spocc_key("payment"))
    except Unprocessable as exc:
        state.payment, state.cause = REFUSED, f"SPoCC refused the payment: {exc.code}"
        return "refused"
    state.payment = DONE
    return "done"


@spocc_task("spocc.orders.paid", queue="orders", base=OrderTask, max_retries=8)
def paid(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply)
