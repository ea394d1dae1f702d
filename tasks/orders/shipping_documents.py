"""shipping documents created → tell SPoCC the store may ship (after the registration;
not after the payment: a cash-on-delivery order ships before it is paid)."""

from __future__ import annotations

from typing import Any

from clients.errors import Unprocessable
from store.order_models import DONE, REFUSED
from tasks.orders import rules
from tasks.orders.engine import Context, OrderTask, run
from tasks.orders.ordering import require_registered
from workers.declare import spocc_task


def apply(ctx: Context) -> str:
    state = ctx.state
    if state.shipping_documents == DONE:
        return "done"
    spocc_order_id = require_registered(ctx)
    body = rules.shipping_documents_body({"id": state.plenty_order_id})
    try:
        ctx.spocc.report_shipping_documents(spocc_order_id, body,
                                            idempotency_key=ctx.spocc_key("shipping-documents"))
    except Unprocessable as exc:
        state.shipping_documents = REFUSED
        state.cause = f"SPoCC refused the shipping documents: {exc.code}"
        return "refused"
    state.shipping_documents = DONE
    return "done"


@spocc_task("spocc.orders.shipping_documents", queue="orders", base=OrderTask, max_retries=8)
def shipping_documents(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply)
