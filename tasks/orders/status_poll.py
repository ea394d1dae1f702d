"""The order status poll (beat, every 20 min per connection): every open order's SPoCC
status; shipped → tracking number and carrier on the order (a shipping package) and status
7; cancelled in SPoCC → status 8. Paged over the open orders, fanned out per order,
counted in SQL, idempotent (a run or a unit sent twice counts once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from store import idempotency
from store.idempotency import Claim
from store.models import SyncRun, utcnow
from store.order_models import DONE, OrderState
from tasks.orders.engine import _clients, lock_order
from workers import runtime
from workers.task_base import SpoccTask, spocc_task

PAGE = 500
SHIPPED, CANCELLED = 7, 9


@spocc_task("spocc.orders.status_poll", queue="orders", max_retries=3)
def status_poll(self: Any, connection_id: str, run_id: int) -> dict[str, int]:
    """Fan out one `status_check` per open order of the connection for sync run `run_id`."""
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "running":
            return {"found": 0}
        claimed = idempotency.claim(session, connection_id, "order-status-run", str(run_id),
                                    idempotency.request_hash(str(run_id)))
        if claimed.claim is not Claim.NEW:
            return {"found": run.found}
        ids = list(session.execute(
            select(OrderState.id).where(OrderState.connection_id == connection_id,
                                        OrderState.open.is_(True)).order_by(OrderState.id)
        ).scalars())
        run.found = len(ids)
        if not ids:
            run.status, run.finished_at = "succeeded", utcnow()
        idempotency.complete(session, claimed.key_id, {"found": len(ids)})
    for start in range(0, len(ids), PAGE):
        for state_id in ids[start:start + PAGE]:
            status_check.apply_async(
                kwargs={"connection_id": connection_id, "order_state_id": state_id,
                        "run_id": run_id}, queue="orders")
    return {"found": len(ids)}


def check(connection_id: str, order_state_id: int) -> str:
    """One order: ask SPoCC, act on shipped / cancelled. Returns pushed | unchanged."""
    conn = runtime.connection(connection_id)
    plenty, spocc = _clients(conn)
    with runtime.db() as session:
        row = session.get(OrderState, order_state_id)
        if row is None or row.connection_id != connection_id:
            return "unchanged"
        state = lock_order(session, connection_id, row.plenty_order_id)
        if not state.open or not state.spocc_order_id:
            return "unchanged"
        answer = spocc.order_status(state.spocc_order_id)
        status = int(answer["status"])
        state.spocc_status = status
        if status == SHIPPED and not state.shipped:
            tracking = answer.get("trackingNumber")
            if tracking:
                known = {p.get("packageNumber") for p in plenty.shipping_packages(
                    state.plenty_order_id)}
                if tracking not in known:
                    plenty.add_shipping_package(state.plenty_order_id, str(tracking))
            _write(conn.status("shipped"), plenty, state)
            state.shipped, state.open = True, False
            state.cause = f"shipped with {answer.get('carrier') or 'carrier unknown'}: {tracking}"
            return "pushed"
        if status == CANCELLED and state.cancellation != DONE:
            _write(conn.status("cancellation_requested"), plenty, state)
            state.open = False
            state.cause = "cancelled in SPoCC by the store"
            return "pushed"
        return "unchanged"


def _write(status: str | None, plenty: Any, state: OrderState) -> None:
    if status is not None:
        plenty.set_order_status(state.plenty_order_id, float(status))
        state.plenty_status = status


def count(connection_id: str, run_id: int, order_state_id: int, outcome: str) -> None:
    """Count the unit once in its run, and close the run with its last unit."""
    column = {"pushed": SyncRun.pushed, "unchanged": SyncRun.unchanged,
              "failed": SyncRun.failed}[outcome]
    with runtime.db() as session:
        claimed = idempotency.claim(session, connection_id, "order-status-unit",
                                    f"{run_id}:{order_state_id}", idempotency.request_hash("1"))
        if claimed.claim is not Claim.NEW:
            return
        session.execute(update(SyncRun).where(SyncRun.id == run_id)
                        .values({column.key: column + 1}))
        idempotency.complete(session, claimed.key_id, {"outcome": outcome})
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "running",
                   SyncRun.pushed + SyncRun.unchanged + SyncRun.failed >= SyncRun.found)
            .values(status="succeeded", finished_at=utcnow())
        )


class StatusCheckTask(SpoccTask):
    abstract = True

    def on_dead_letter(self, session: Any, dead_letter_id: int, args: tuple[Any, ...],
                       kwargs: dict[str, Any], exc: BaseException) -> None:
        if {"connection_id", "run_id", "order_state_id"} <= set(kwargs):
            count(kwargs["connection_id"], kwargs["run_id"], kwargs["order_state_id"], "failed")


@spocc_task("spocc.orders.status_check", queue="orders", base=StatusCheckTask, max_retries=5)
def status_check(self: Any, connection_id: str, order_state_id: int, run_id: int | None = None
                 ) -> str:
    outcome = check(connection_id, order_state_id)
    if run_id is not None:
        count(connection_id, run_id, order_state_id, outcome)
    return outcome
