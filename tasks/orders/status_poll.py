"""The order status poll (beat, every 20 min per connection): one listing of the orders SPoCC
shipped or cancelled since the last successful poll (`GET /orders?changedSince=&status=7&
status=9`, paged), then one `status_check` for each of them that is open here: shipped →
tracking number and carrier on the order (a shipping package) and status 7; cancelled in
SPoCC → status 8. An open order SPoCC did not change is not asked about, so 10,000 open
orders cost a few list pages, not 10,000 checks queued ahead of new registrations. The
listing takes its budget at catalogue priority: the orders' reserve is for order events.
Counted in SQL, idempotent (a run or a unit sent twice counts once)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from schemas.config import ConnectionConfig
from store import idempotency
from store.idempotency import Claim
from store.models import SyncRun, utcnow
from store.order_models import DONE, OrderState
from tasks.catalogue import runs
from tasks.catalogue.registry import tier
from tasks.orders import lease
from tasks.orders import writeback as outbox
from tasks.orders.engine import LeaseLost
from tasks.orders.wiring import enqueue_writeback, poll_client
from workers import runtime
from workers.declare import spocc_task
from workers.task_base import SpoccTask

PAGE = 500
SHIPPED, CANCELLED = 7, 9
PROCESS = "order_status"
# SPoCC's clock and ours differ a little, and an order changed while the last listing was
# paged may carry a time just before its cut-off: look back a little (a second check of an
# order is harmless).
OVERLAP = timedelta(minutes=2)
# Behind the order events on the orders queue (they are sent at 0, the first served).
CHECKS = tier(PROCESS)


def since(session: Session, connection_id: str) -> str | None:
    """Where the listing starts: the last successful poll's cut-off (a poll with a failed
    check is not a success, so its window is listed again), else the registration of the
    oldest open order; None when no order is open."""
    previous = runs.last_success(session, connection_id, PROCESS)
    if previous is not None and previous.cutoff:
        start = datetime.fromisoformat(previous.cutoff.replace("Z", "+00:00"))
    else:
        oldest = session.execute(select(func.min(OrderState.created_at)).where(
            OrderState.connection_id == connection_id, OrderState.open.is_(True))).scalar()
        if oldest is None:
            return None
        start = oldest
    return (start - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _open_among(session: Session, connection_id: str, spocc_ids: list[str]) -> list[int]:
    found: list[int] = []
    for start in range(0, len(spocc_ids), PAGE):
        found += session.execute(select(OrderState.id).where(
            OrderState.connection_id == connection_id, OrderState.open.is_(True),
            OrderState.spocc_order_id.in_(spocc_ids[start:start + PAGE]))).scalars()
    return sorted(found)


@spocc_task("spocc.orders.status_poll", queue="orders", max_retries=3)
def status_poll(self: Any, connection_id: str, run_id: int) -> dict[str, int]:
    """List what SPoCC changed for sync run `run_id`; one `status_check` per open order in it."""
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "running":
            return {"found": 0}
        start = since(session, connection_id)
    listed: list[str] = []
    cutoff = None
    if start is not None:  # SPoCC is asked with no transaction open
        changed = poll_client(runtime.connection(connection_id)).orders(
            start, statuses=(SHIPPED, CANCELLED), page_size=PAGE)
        listed = sorted({str(o["spoccOrderId"]) for o in changed})
        cutoff = changed.cutoff
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "running":
            return {"found": 0}
        claimed = idempotency.claim(session, connection_id, "order-status-run", str(run_id),
                                    idempotency.request_hash(str(run_id)))
        if claimed.claim is not Claim.NEW:
            return {"found": run.found}
        ids = _open_among(session, connection_id, listed)
        run.found, run.cutoff = len(ids), cutoff
        if not ids:
            run.status, run.finished_at = runs.CLOSED_OK, utcnow()
        idempotency.complete(session, claimed.key_id, {"found": len(ids),
                                                       "listed": len(listed)})
    for state_id in ids:
        status_check.apply_async(
            kwargs={"connection_id": connection_id, "order_state_id": state_id,
                    "run_id": run_id}, queue="orders", priority=CHECKS)
    return {"found": len(ids), "listed": len(listed)}


def check(connection_id: str, order_state_id: int) -> str:
    """One order: ask SPoCC, act on shipped / cancelled. Returns pushed | unchanged | busy
    (another event of the order runs: the check is sent again shortly, not counted yet).

    Re-read, decide, commit, call, record: the order's lease is taken and committed, SPoCC
    is asked with nothing open, and the outcome (with the status and tracking number to
    write back to PlentyONE, in the outbox) is recorded under the lease."""
    conn = runtime.connection(connection_id)
    with runtime.db() as session:
        row = session.get(OrderState, order_state_id)
        if row is None or row.connection_id != connection_id:
            return "unchanged"
        order_id = row.plenty_order_id
    owner = lease.new_owner(f"p{order_state_id}")
    with runtime.db() as session:
        state = lease.take(session, connection_id, order_id, owner,
                           runtime.settings().orders.lease)
        if state is not None:
            session.expunge(state)
    if state is None:
        return "busy"
    try:
        if not state.open or not state.spocc_order_id:
            with runtime.db() as session:
                lease.give_back(session, state.id, owner)
            return "unchanged"
        with lease.Renewal(state.id, owner):
            answer = poll_client(conn).order_status(state.spocc_order_id)
    except BaseException:
        with runtime.db() as session:
            lease.give_back(session, state.id, owner)
        raise
    return _record(conn, state, owner, answer)


def _record(conn: ConnectionConfig, state: OrderState, owner: str,
            answer: dict[str, Any]) -> str:
    status = int(answer["status"])
    values: dict[str, Any] = {"spocc_status": status}
    writeback: tuple[str | None, str, str | None] | None = None
    if status == SHIPPED and not state.shipped:
        tracking = answer.get("trackingNumber")
        values.update(shipped=True, open=False, cause=(
            f"shipped with {answer.get('carrier') or 'carrier unknown'}: {tracking}"))
        writeback = (conn.status("shipped"), "shipped", str(tracking) if tracking else None)
    elif status == CANCELLED and state.cancellation != DONE:
        values.update(open=False, cause="cancelled in SPoCC by the store")
        writeback = (conn.status("cancellation_requested"), "cancellation_requested", None)
    writeback_id = None
    with runtime.db() as session:
        fenced = session.execute(
            update(OrderState).where(OrderState.id == state.id, OrderState.lease_owner == owner)
            .values(**values, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False))
        if not fenced.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"order {state.plenty_order_id}: lease lost during the status poll")
        if writeback is not None and (writeback[0] is not None or writeback[2] is not None):
            writeback_id = outbox.queue(session, conn.id, state.plenty_order_id, writeback[0],
                                        writeback[1], tracking=writeback[2])
    if writeback_id is not None:
        enqueue_writeback(conn.id, writeback_id, priority=CHECKS)
    return "unchanged" if writeback is None else "pushed"


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
        # A check that failed for good makes the run failed, so that the next poll lists
        # its window again instead of starting after it.
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "running",
                   SyncRun.pushed + SyncRun.unchanged + SyncRun.failed >= SyncRun.found)
            .values(status=case((SyncRun.failed > 0, "failed"), else_=runs.CLOSED_OK),
                    finished_at=utcnow())
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
    if outcome == "busy":
        self.apply_async(kwargs={"connection_id": connection_id,
                                 "order_state_id": order_state_id, "run_id": run_id},
                         countdown=random.uniform(1.0, 3.0), priority=CHECKS)
        return outcome
    if run_id is not None:
        count(connection_id, run_id, order_state_id, outcome)
    return outcome
