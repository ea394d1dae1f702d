"""order registered → register the order at SPoCC (stock reserved, sale booked into the
channel store of its warehouse), then status 5.1 in PlentyONE; or hold, block or refuse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clients.errors import Conflict, Unprocessable
from store.models import EventDelivery
from store.order_models import BLOCKED, DONE, FAILED, HELD, NONE
from tasks.orders import bodies, rules
from tasks.orders.engine import Context, OrderTask, run
from workers import runtime
from workers.declare import spocc_task

# The relations register needs: lines with their variation and barcodes (SPoCC ID).
ORDER_RELATIONS = ("orderItems", "addresses", "properties", "orderItems.variation",
                   "orderItems.variationBarcodes")


def apply(ctx: Context) -> str:
    state, conn = ctx.state, ctx.conn
    if state.registration == DONE:
        return "done"
    order_id = state.plenty_order_id
    key = ctx.spocc_key("register")
    # A body already sent under the key is sent again as it was (the order may have been
    # edited since); the rules decided on it when it was first sent.
    body = bodies.stored_body(conn.id, key)
    if body is None:
        order = ctx.plenty.order(order_id, with_=ORDER_RELATIONS)
        blocked = rules.blocked_by(order, conn.rules)
        if blocked:
            state.registration, state.cause = BLOCKED, blocked
            return "blocked"
        try:
            body = rules.registration(order, conn)
        except rules.Hold as hold:
            state.registration, state.cause = HELD, f"held: {hold}"
            return "held"
        except rules.Invalid as invalid:
            return _refused(ctx, "registration_failed", f"not sent: {invalid}")

    existing = ctx.spocc.order_by_plenty_id(order_id) if _may_have_been_sent(ctx) else None
    if existing is None:
        if conn.acceptance.enabled and not state.released:
            refusal = _acceptance(ctx, body)
            if refusal is not None:
                return refusal
        fresh = body
        body = ctx.sent_body(key, lambda: fresh)
        try:
            existing = ctx.spocc.register_order(body, idempotency_key=key)
        except Conflict as exc:
            existing = _already_registered(ctx, exc)
        except Unprocessable as exc:
            bodies.forget(conn.id, key)
            return _refused(ctx, rules.rejection_outcome(exc.code),
                            f"SPoCC refused the registration: {exc.code}: {exc.message}")
    state.spocc_order_id = str(existing["spoccOrderId"])
    state.spocc_status = int(existing["status"])
    state.registration, state.cause, state.open = DONE, None, True
    ctx.set_status("handed_over")
    ctx.release_held()
    return "done"


def _already_registered(ctx: Context, exc: Conflict) -> dict[str, Any]:
    """`order_exists` names the order; `idempotency_key_reused` after a lost answer means
    the key was used: the order is looked up, not failed."""
    if exc.code == "order_exists" and exc.details.get("spoccOrderId"):
        return ctx.spocc.order(str(exc.details["spoccOrderId"]))
    if exc.code == "idempotency_key_reused":
        found = ctx.spocc.order_by_plenty_id(ctx.state.plenty_order_id)
        if found is not None:
            return found
    raise exc


def _may_have_been_sent(ctx: Context) -> bool:
    """Whether an earlier attempt may have registered the order (its answer lost): then SPoCC
    is asked first. The very first attempt of the order's first registration event cannot
    have been preceded by a call, and skipping the lookup halves its Transaction API calls
    (SPoCC allows 1,200 a minute); `order_exists` still guards a lost key."""
    if ctx.delivery.attempts > 1 or ctx.state.registration != NONE:
        return True
    with runtime.db() as session:
        earlier = session.execute(select(func.count()).where(
            EventDelivery.connection_id == ctx.conn.id,
            EventDelivery.order_id == ctx.state.plenty_order_id,
            EventDelivery.event_type == "order-registered",
            EventDelivery.id != ctx.delivery.id,
            EventDelivery.attempts > 0)).scalar_one()
    return bool(earlier)


def _acceptance(ctx: Context, body: dict[str, Any]) -> str | None:
    rule = ctx.conn.acceptance
    ids = sorted({line["spoccId"] for line in body["lines"]})
    stock = {item["spoccId"]: item for item in ctx.spocc.stock_of(ids)}
    problems = rules.acceptance_failures(body["lines"], stock, body["channelStore"],
                                         rule.threshold)
    if not problems:
        return None
    cause = "acceptance rule: " + "; ".join(problems)
    if rule.on_fail == "hold":
        ctx.state.registration, ctx.state.cause = HELD, f"{cause} (release: spocc orders release)"
        return "waiting"
    return _refused(ctx, "not_enough_stock", cause)


def _refused(ctx: Context, outcome: str, cause: str) -> str:
    ctx.state.registration, ctx.state.cause = FAILED, cause[:2000]
    ctx.set_status(outcome)
    return "refused"


@spocc_task("spocc.orders.register", queue="orders", base=OrderTask, max_retries=8)
def register(self: Any, connection_id: str, delivery_id: int) -> str:
    return run(self, connection_id, delivery_id, apply)
