"""Retention: every table of history kept within its setting, hourly (`spocc.maintenance.reap`).

| table | kept | setting |
|---|---|---|
| idempotency_keys | until `expires_at` (96 h) | — |
| attempts, http_exchanges | 30 days, but an open letter's stay | `SPOCC_RETAIN_ATTEMPTS_DAYS` |
| dead_letters, resolved or discarded | 30 days after that | `SPOCC_RETAIN_DEAD_LETTERS_DAYS` |
| event_deliveries, finished | 180 days after their last change | `SPOCC_RETAIN_ORDERS_DAYS` |
| order_writebacks, written | 180 days after their last change | `SPOCC_RETAIN_ORDERS_DAYS` |
| sync_runs + sync_units, closed | 90 days from their start | `SPOCC_RETAIN_SYNC_RUNS_DAYS` |

(`order_states` and `spocc_requests` go with the order sweeper, `tasks/orders/sweep.py`. A
write-back row is made again by the next outcome of its order, should one ever come.)

Unfinished work is never reaped, however old: a delivery still pending, running, held or
failing; a run still running and its units; a delivery or run that an unresolved dead letter
points at (a replay must find it). Nor is the latest successful run of each process: it is
where the next delta starts and what "last success" reports.

Deletes go in batches, each its own short transaction, so the first reap of a large backlog
neither holds locks for long nor outgrows the task's time limit in one statement.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store import dead_letters, idempotency
from store.catalogue_models import SyncUnit
from store.db import session_scope
from store.models import DeadLetter, EventDelivery, SyncRun, utcnow
from store.order_models import DONE as WRITTEN
from store.order_models import OrderWriteback
from tasks.catalogue.runs import CLOSED_OK, OPEN_RUN, last_success
from workers import runtime
from workers.declare import spocc_task
from workers.settings import Retention

BATCH = 2000
# Statuses after which nothing more happens to a delivery on its own ("dead" only once its
# dead letter is settled: see `_pinned`).
FINISHED_DELIVERY = ("done", "refused", "blocked", "dead")
UNRESOLVED_LETTER = ("open", "replayed")


def _pinned(session: Session) -> tuple[set[int], set[int]]:
    """Delivery and run ids that unresolved dead letters point at.

    Order event tasks take `delivery_id` by keyword; catalogue planners and units take
    `(connection_id, run_id[, unit_id])` by position, the status poll `run_id` by keyword.
    The inbox of unresolved letters is small, so it is read whole."""
    deliveries: set[int] = set()
    runs: set[int] = set()
    rows = session.execute(
        select(DeadLetter.task_name, DeadLetter.args, DeadLetter.kwargs)
        .where(DeadLetter.status.in_(UNRESOLVED_LETTER))
    ).all()
    for task_name, args, kwargs in rows:
        kw = kwargs if isinstance(kwargs, dict) else {}
        if isinstance(kw.get("delivery_id"), int):
            deliveries.add(kw["delivery_id"])
        if isinstance(kw.get("run_id"), int):
            runs.add(kw["run_id"])
        if (task_name.startswith("spocc.catalogue.") and isinstance(args, list)
                and len(args) > 1 and isinstance(args[1], int)):
            runs.add(args[1])
    return deliveries, runs


def _latest_successes(session: Session) -> set[int]:
    """Per (connection, process): the run a delta starts from and the newest success."""
    keep: set[int] = set()
    pairs = session.execute(
        select(SyncRun.connection_id, SyncRun.process)
        .where(SyncRun.status == CLOSED_OK).distinct()
    ).all()
    for connection_id, process in pairs:
        base = last_success(session, connection_id, process)
        if base is not None:
            keep.add(base.id)
        newest = session.execute(
            select(SyncRun.id).where(SyncRun.connection_id == connection_id,
                                     SyncRun.process == process, SyncRun.status == CLOSED_OK)
            .order_by(SyncRun.started_at.desc()).limit(1)
        ).scalar_one_or_none()
        if newest is not None:
            keep.add(newest)
    return keep


def _reap(url: str, pick: Any, remove: Any, deadline: float) -> int:
    """Pick up to BATCH ids, delete them, commit; again until none is left or time is up."""
    done = 0
    while time.monotonic() < deadline:  # else the next hourly reap carries on
        with session_scope(url) as session:
            ids = list(session.execute(pick.limit(BATCH)).scalars())
            if not ids:
                break
            done += remove(session, ids)
        if len(ids) < BATCH:
            break
    return done


def _delete_deliveries(session: Session, ids: list[int]) -> int:
    result = session.execute(delete(EventDelivery).where(EventDelivery.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _delete_writebacks(session: Session, ids: list[int]) -> int:
    result = session.execute(delete(OrderWriteback).where(OrderWriteback.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _delete_runs(session: Session, ids: list[int]) -> int:
    # Units first: the foreign key cascades on both databases, but saying it keeps the
    # batch's cost visible (a full run has a hundred units or more).
    session.execute(delete(SyncUnit).where(SyncUnit.run_id.in_(ids)))
    result = session.execute(delete(SyncRun).where(SyncRun.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def reap_tables(url: str, retention: Retention, now: datetime | None = None,
                budget_seconds: float = 120.0) -> dict[str, int]:
    """Remove what retention allows; returns rows removed per table."""
    now = now or utcnow()
    deadline = time.monotonic() + budget_seconds
    with session_scope(url) as session:
        keys = idempotency.reap(session, now=now)
        rows = dead_letters.reap(
            session,
            resolved_older_than=timedelta(seconds=retention.resolved_dead_letter_seconds),
            attempts_older_than=timedelta(seconds=retention.attempt_seconds),
        )
        pinned_deliveries, pinned_runs = _pinned(session)
        kept_runs = pinned_runs | _latest_successes(session)
    deliveries = (
        select(EventDelivery.id)
        .where(EventDelivery.status.in_(FINISHED_DELIVERY),
               EventDelivery.updated_at < now - timedelta(seconds=retention.order_state_seconds),
               EventDelivery.id.not_in(pinned_deliveries))
        .order_by(EventDelivery.id)
    )
    writebacks = (
        select(OrderWriteback.id)
        .where(OrderWriteback.state == WRITTEN,
               OrderWriteback.updated_at < now - timedelta(seconds=retention.order_state_seconds))
        .order_by(OrderWriteback.id)
    )
    runs = (
        select(SyncRun.id)
        .where(SyncRun.status.not_in(OPEN_RUN),
               SyncRun.started_at < now - timedelta(seconds=retention.sync_run_seconds),
               SyncRun.id.not_in(kept_runs))
        .order_by(SyncRun.id)
    )
    return {
        "idempotency_keys": keys,
        "attempts_and_dead_letters": rows,
        "event_deliveries": _reap(url, deliveries, _delete_deliveries, deadline),
        "order_writebacks": _reap(url, writebacks, _delete_writebacks, deadline),
        "sync_runs": _reap(url, runs, _delete_runs, deadline),
    }


@spocc_task("spocc.maintenance.reap", queue="default", max_retries=2, periodic=True)
def reap(self: Any) -> dict[str, int]:
    s = runtime.settings()
    return reap_tables(s.database_url, s.retention,
                       budget_seconds=s.task_soft_time_limit / 2)
