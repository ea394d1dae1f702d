"""Status write-backs to PlentyONE: an outbox row per order, written by its own task.

An event's outcome at SPoCC is committed first; the status PlentyONE should show is queued in
the same transaction (`queue`), and written afterwards (`write`): re-read, decide, commit,
call, record. So a PlentyONE outage delays the status and never touches the registration.

- One row per PlentyONE order: a newer outcome overwrites the status to write and bumps `seq`,
  so a late 5.1 never lands after a 7, 8 or 9 (the newest outcome wins; an outcome that was
  never written because a newer one came first is skipped, as PlentyONE shows only one).
- A failed write is retried with backoff (`writeback_backoff_max`), its schedule kept in the
  row (`next_attempt_at`) for the sweeper; short waits also get a countdown message.
- Failing for longer than `writeback_horizon` (72 h), or refused for good (4xx), the row is
  dead and a dead letter says which status of which order could not be written, and why.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from clients.errors import PermanentError, RetryableError
from store.db import database_blip, insert_for
from store.models import utcnow
from store.order_models import DEAD, DONE, PENDING, OrderState, OrderWriteback
from tasks.orders.lease import new_owner
from tasks.orders.wiring import WRITEBACK_TASK, enqueue_writeback, writeback_client
from workers import runtime
from workers.declare import spocc_task
from workers.task_base import SpoccTask

log = logging.getLogger(__name__)

# Waits up to this are also sent as a countdown message; longer ones wait for the sweeper.
COUNTDOWN_MAX = 60.0


class WritebackExpired(Exception):
    """A status write kept failing past its horizon (a dead letter of its own)."""


def queue(session: Session, connection_id: str, order_id: int, status_id: str | None,
          outcome: str, tracking: str | None = None) -> int:
    """Make `status_id` (and `tracking`) what PlentyONE should show for the order; returns
    the row id to send once the caller committed."""
    now = utcnow()
    session.execute(
        insert_for(session)(OrderWriteback)
        .values(connection_id=connection_id, plenty_order_id=order_id, seq=0, written_seq=0,
                state=DONE, attempts=0, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["connection_id", "plenty_order_id"]))
    values: dict[str, Any] = {
        "seq": OrderWriteback.seq + 1, "state": PENDING, "outcome": outcome,
        "next_attempt_at": now, "failing_since": None, "last_error": None,
    }
    if status_id is not None:
        values["status_id"] = status_id
    if tracking is not None:
        values["tracking"] = tracking
    session.execute(update(OrderWriteback).where(
        OrderWriteback.connection_id == connection_id,
        OrderWriteback.plenty_order_id == order_id).values(**values)
        .execution_options(synchronize_session=False))
    return int(session.execute(select(OrderWriteback.id).where(
        OrderWriteback.connection_id == connection_id,
        OrderWriteback.plenty_order_id == order_id)).scalar_one())


def _backoff(attempts: int) -> float:
    cap = runtime.settings().orders.writeback_backoff_max
    return float(min(cap, 2 ** min(attempts, 20)))


def _claim(writeback_id: int, owner: str, replay: bool) -> OrderWriteback | None:
    """Take the row's lease (conditional UPDATE) and count the attempt; None: not ours."""
    now = utcnow()
    lease = timedelta(seconds=runtime.settings().task_time_limit + 60)
    with runtime.db() as session:
        if replay:  # an operator replays the dead letter: the horizon starts again
            session.execute(update(OrderWriteback).where(
                OrderWriteback.id == writeback_id, OrderWriteback.state == DEAD)
                .values(state=PENDING, failing_since=None, next_attempt_at=now))
        taken = session.execute(
            update(OrderWriteback)
            .where(OrderWriteback.id == writeback_id, OrderWriteback.state == PENDING,
                   or_(OrderWriteback.lease_owner.is_(None), OrderWriteback.lease_until < now))
            .values(lease_owner=owner, lease_until=now + lease,
                    attempts=OrderWriteback.attempts + 1)
            .execution_options(synchronize_session=False))
        if not taken.rowcount:  # type: ignore[attr-defined]
            return None
        return session.get(OrderWriteback, writeback_id, populate_existing=True)


def write(task: Any, connection_id: str, writeback_id: int) -> str:
    """Write the newest outcome of one order to PlentyONE. Returns done | again | retrying
    | busy (another run holds it, or nothing is pending)."""
    owner = new_owner(f"w{writeback_id}")
    row = _claim(writeback_id, owner, replay=task._replay_of() is not None)
    if row is None or row.connection_id != connection_id:
        return "busy"
    plenty = writeback_client(runtime.connection(connection_id))
    try:
        if row.tracking:
            known = {p.get("packageNumber") for p in plenty.shipping_packages(
                row.plenty_order_id)}
            if row.tracking not in known:
                plenty.add_shipping_package(row.plenty_order_id, row.tracking)
        if row.status_id is not None:
            plenty.set_order_status(row.plenty_order_id, float(row.status_id))
    except RetryableError as exc:
        return _failed(row, owner, exc)
    except PermanentError as exc:
        _record_dead(row, owner, f"{type(exc).__name__}: {exc}")
        raise
    return _written(row, owner)


def _written(row: OrderWriteback, owner: str) -> str:
    with runtime.db() as session:
        current = session.execute(
            update(OrderWriteback)
            .where(OrderWriteback.id == row.id, OrderWriteback.lease_owner == owner)
            .values(written_seq=row.seq, lease_owner=None, lease_until=None, last_error=None,
                    failing_since=None, next_attempt_at=None)
            .execution_options(synchronize_session=False))
        if not current.rowcount:  # type: ignore[attr-defined]
            return "busy"  # our lease ran out and another run took over: it records
        session.execute(
            update(OrderWriteback)
            .where(OrderWriteback.id == row.id, OrderWriteback.seq == row.seq)
            .values(state=DONE).execution_options(synchronize_session=False))
        if row.status_id is not None:
            session.execute(update(OrderState).where(
                OrderState.connection_id == row.connection_id,
                OrderState.plenty_order_id == row.plenty_order_id)
                .values(plenty_status=row.status_id).execution_options(
                    synchronize_session=False))
        again = session.execute(select(OrderWriteback.state).where(
            OrderWriteback.id == row.id)).scalar_one() == PENDING
    if again:  # a newer outcome came while we wrote: write it too
        enqueue_writeback(row.connection_id, row.id, priority=_own_priority())
        return "again"
    return "done"


def _failed(row: OrderWriteback, owner: str, exc: BaseException) -> str:
    now = utcnow()
    since = row.failing_since or now
    horizon = timedelta(seconds=runtime.settings().orders.writeback_horizon)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if now - since >= horizon:
        _record_dead(row, owner, error)
        raise WritebackExpired(
            f"status {row.status_id} of PlentyONE order {row.plenty_order_id} could not be "
            f"written for {horizon} ({row.attempts} attempts); last error: {error}")
    wait = _backoff(row.attempts)
    with runtime.db() as session:
        session.execute(
            update(OrderWriteback)
            .where(OrderWriteback.id == row.id, OrderWriteback.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, last_error=error, failing_since=since,
                    next_attempt_at=now + timedelta(seconds=wait))
            .execution_options(synchronize_session=False))
    if wait <= COUNTDOWN_MAX:
        enqueue_writeback(row.connection_id, row.id, countdown=wait, priority=_own_priority())
    log.info("status write-back %s of order %s failed (%s); again in %.0f s", row.id,
             row.plenty_order_id, error, wait)
    return "retrying"


def _own_priority() -> int:
    """The priority this write-back's message came at: sent again, it keeps its tier."""
    from celery import current_task

    info = getattr(getattr(current_task, "request", None), "delivery_info", None) or {}
    priority = info.get("priority")
    return priority if isinstance(priority, int) else 0


def _record_dead(row: OrderWriteback, owner: str, error: str) -> None:
    with runtime.db() as session:
        session.execute(
            update(OrderWriteback)
            .where(OrderWriteback.id == row.id, OrderWriteback.lease_owner == owner)
            .values(state=DEAD, lease_owner=None, lease_until=None, last_error=error[:2000],
                    next_attempt_at=None)
            .execution_options(synchronize_session=False))


class WritebackTask(SpoccTask):
    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        if database_blip(exc) and isinstance((kwargs or {}).get("writeback_id"), int):
            log.warning("write-back %s met a broken database connection; sent again",
                        kwargs["writeback_id"])
            enqueue_writeback(kwargs["connection_id"], kwargs["writeback_id"], countdown=2,
                              priority=_own_priority())
            return
        super().on_failure(exc, task_id, args, kwargs, einfo)

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        writeback_id = kwargs.get("writeback_id")
        return f"writeback:{writeback_id}" if isinstance(writeback_id, int) else None


@spocc_task(WRITEBACK_TASK, queue="orders", base=WritebackTask, max_retries=0,
            retry_for=())
def writeback(self: Any, connection_id: str, writeback_id: int) -> str:
    return write(self, connection_id, writeback_id)


def due(limit: int = 1000) -> list[tuple[str, int]]:
    """(connection, id) of the write-backs whose time came (or whose writer died)."""
    now = utcnow()
    grace = timedelta(seconds=60)
    with runtime.db() as session:
        rows = session.execute(
            select(OrderWriteback.id, OrderWriteback.connection_id)
            .where(OrderWriteback.state == PENDING, OrderWriteback.next_attempt_at <= now,
                   or_(OrderWriteback.lease_owner.is_(None), OrderWriteback.lease_until < now))
            .order_by(OrderWriteback.next_attempt_at).limit(limit)).all()
        if rows:
            session.execute(update(OrderWriteback)
                            .where(OrderWriteback.id.in_([r.id for r in rows]))
                            .values(next_attempt_at=now + grace)
                            .execution_options(synchronize_session=False))
    return [(r.connection_id, r.id) for r in rows]


def pending_count(connection_id: str) -> int:
    from sqlalchemy import func

    with runtime.db() as session:
        return int(session.execute(select(func.count()).where(
            OrderWriteback.connection_id == connection_id,
            OrderWriteback.state == PENDING)).scalar_one())
