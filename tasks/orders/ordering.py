"""Per-order ordering: everything waits for the registration."""

from __future__ import annotations

from datetime import timedelta

from store.order_models import BLOCKED, DONE, NONE
from tasks.orders.engine import Blocked, Context, Wait

# A registration that failed or waits for a person is not looked at every minute: its
# success (an operator's replay, a release) releases the waiting events at once anyway.
STUCK_HOLD = timedelta(hours=1)


def require_registered(ctx: Context) -> str:
    """The SPoCC order id; Wait while the registration is not done; Blocked when the order
    is never exported."""
    state = ctx.state
    if state.registration == DONE and state.spocc_order_id:
        return state.spocc_order_id
    if state.registration == BLOCKED:
        raise Blocked(f"order {state.plenty_order_id} is not exported ({state.cause})")
    message = (f"waits for the registration of order {state.plenty_order_id} "
               f"(registration: {state.registration})")
    if state.registration == NONE:
        raise Wait(message)
    raise Wait(message, after=STUCK_HOLD)
