"""Per-order ordering: everything waits for the registration."""

from __future__ import annotations

from store.order_models import BLOCKED, DONE
from tasks.orders.engine import Context, Wait


def require_registered(ctx: Context) -> str:
    """The SPoCC order id, or Wait while the registration is not done."""
    state = ctx.state
    if state.registration == DONE and state.spocc_order_id:
        return state.spocc_order_id
    if state.registration == BLOCKED:
        raise Wait(f"order {state.plenty_order_id} is not exported ({state.cause})")
    raise Wait(f"waits for the registration of order {state.plenty_order_id} "
               f"(registration: {state.registration})")
