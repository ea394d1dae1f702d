"""order registered → register the order at SPoCC (stock reserved, sale booked into the
channel store of its warehouse), then status 5.1 in PlentyONE; or hold, block or refuse."""

from __future__ import annotations

from typing import Any

from clients.errors import Conflict, Unprocessable
from store.order_models import BLOCKED, DONE, FAILED, HELD
from tasks.orders import rules
from tasks.orders.engine import Context, OrderTask, run
from workers.task_base import spocc_task

# The relations register needs: lines with their variation and barcodes (SPoCC ID).
ORDER_RELATIONS = ("orderItems", "addresses", "properties", "orderItems.variation",
                   "orderItems.variationBarcodes")


def apply(ctx: Context) -> str:
    state, conn = ctx.state, ctx.conn
    if state.registration == DONE:
        return "done"
    order_id = state.plenty_order_id
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

    existing = ctx.spocc.order_by_plenty_id(order_id)
    if existing is None:
        if conn.acceptance.enabled and not state.released:
            refusal = _acceptance(ctx, body)
            if refusal is not None:
                return refusal
        try:
            existing = ctx.spocc.register_order(body, idempotency_key=ctx.spocc_key("register"))
        except Conflict as exc:
            if exc.code != "order_exists" or not exc.details.get("spoccOrderId"):
                raise
            existing = ctx.spocc.order(str(exc.details["spoccOrderId"]))
        except Unprocessable as exc:
            return _refused(ctx, rules.rejection_outcome(exc.code),
                            f"SPoCC refused the registration: {exc.code}: {exc.message}")
    state.spocc_order_id = str(existing["spoccOrderId"])
    state.spocc_status = int(existing["status"])
    state.registration, state.cause, state.open = DONE, None, True
    ctx.set_status("handed_over")
    ctx.release_held()
    return "done"


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
