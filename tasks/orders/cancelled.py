"""order cancelled → cancel at SPoCC so the reservation is released; confirmed → 8.8,
refused because SPoCC is already processing it → the configured status and a visible cause."""

from __future__ import annotations

from typing import Any

from clients.errors import Unprocessable
from store.order_models import DONE, FAILED, REFUSED
from tasks.orders.engine import Context, OrderTask, run
from tasks.orders.ordering import require_registered
from workers.declare import spocc_task


def apply(ctx: Context) -> str:
    state = ctx.state
    if state.cancellation == DONE:
        return "done"
    if state.registration == FAILED:
        # SPoCC never accepted the order: nothing is reserved, nothing to cancel there.
        state.cancellation, state.open = DONE, False
        ctx.set_status("cancelled")
        return "done"
    spocc_order_id = require_registered(ctx)
    try:
        order = ctx.spocc.cancel_order(spocc_order_id, idempotency_key=ctx.spocc_key("cancel"),
                                       reason="cancelled in PlentyONE")
    except Unprocessable as exc:
        if exc.code != "already_processing":
            raise
        status = exc.details.get("status")
        state.cancellation = REFUSED
        state.cause = (f"cancellation refused by SPoCC: the order is already being processed "
                       f"(SPoCC status {status})")
        ctx.set_status("cancel_refused")
        return "refused"
    state.cancellation, state.open = DONE, False
    state.spocc_status = int(order.get("status", 9))
    ctx.set_status("cancelled")
    return "done"


@spocc_task("spocc.orders.cancelled", queue="orders", base=OrderTask, max_retries=8)
def cancelled(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply)
