"""One connection as the console shows it: its processes, the orders that wait or were
refused, its rate budgets and breakers. Plain reads over a session and Redis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from marshmallow import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from clients.status import connection_state
from schemas.config import PROCESSES, ProcessesSchema
from store.models import Connection, EventDelivery, SyncRun, utcnow
from store.order_models import BLOCKED, FAILED, HELD, REFUSED, OrderState
from tasks.catalogue import control, runs
from tasks.catalogue.slots import offset_minutes, slot_start

ORDER_EVENTS = ("registration", "payment", "shipping_documents", "cancellation")
ATTENTION = (HELD, BLOCKED, REFUSED, FAILED)
# Order events not finished (done, refused and blocked are final; refused/blocked show above).
UNFINISHED = ("pending", "running", "held", "failed", "dead")
OVERDUE_FACTOR = 2  # a process is overdue when its last success is older than 2 intervals
LIST_LIMIT = 200


@dataclass
class Progress:
    run_id: int
    done: int
    total: int
    planned: bool
    units_open: int
    started_at: datetime

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


@dataclass
class ProcessRow:
    process: str
    enabled: bool
    interval_minutes: int
    last_success: SyncRun | None
    next_slot: datetime | None
    progress: Progress | None
    why: str  # what the process is doing or waiting for, in words
    overdue: bool
    last_failure: SyncRun | None
    last_skipped: SyncRun | None


def _settings(row: Connection) -> dict[str, tuple[bool, int]]:
    try:
        procs = ProcessesSchema().load(row.config.get("processes") or {})
    except ValidationError:
        return {p: (True, m) for p, m in PROCESSES.items()}
    return {p: (s.enabled, s.interval_minutes) for p, s in procs.items()}


def processes(session: Session, row: Connection, now: datetime | None = None) -> list[ProcessRow]:
    now = now or utcnow()
    settings = _settings(row)
    paused = set(row.paused_processes or [])
    out = []
    for st in control.catalogue_status(session, row.id):
        enabled, interval = settings.get(st.process, (True, PROCESSES.get(st.process, 60)))
        step = timedelta(minutes=interval)
        offset = offset_minutes(row.id, interval)
        nxt = slot_start(now, interval, offset) + step if enabled else None
        progress = None
        if st.in_progress is not None:
            r = st.in_progress
            progress = Progress(
                r.id, runs.settled(r), r.found, r.planned,
                st.units_open, r.started_at,
            )
        skipped = session.execute(
            select(SyncRun)
            .where(SyncRun.connection_id == row.id, SyncRun.process == st.process,
                   SyncRun.status == "skipped")
            .order_by(SyncRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        done = st.last_success
        last_ok = (done.finished_at or done.started_at) if done else None
        if last_ok is None:
            late = _first_run_older_than(session, row.id, st.process, now - OVERDUE_FACTOR * step)
        else:
            late = now - last_ok > OVERDUE_FACTOR * step
        overdue = enabled and not row.paused and st.process not in paused and late
        out.append(ProcessRow(
            st.process, enabled, interval, st.last_success, nxt, progress,
            _why(row, st.process, enabled, paused, progress, skipped, st.last_failure, overdue,
                 last_ok, nxt),
            bool(overdue), st.last_failure, skipped,
        ))
    return out


def _first_run_older_than(session: Session, conn_id: str, process: str, cut: datetime) -> bool:
    """Never succeeded: overdue once its first run is older than two intervals."""
    first = session.execute(
        select(SyncRun.started_at)
        .where(SyncRun.connection_id == conn_id, SyncRun.process == process)
        .order_by(SyncRun.id).limit(1)
    ).scalar_one_or_none()
    return first is not None and first < cut


def _why(row: Connection, process: str, enabled: bool, paused: set[str],
         progress: Progress | None, skipped: SyncRun | None, failure: SyncRun | None,
         overdue: bool, last_ok: datetime | None, nxt: datetime | None) -> str:
    if row.paused:
        return "connection paused (spocc resume " + row.id + ")"
    if process in paused:
        return f"paused (spocc resume {row.id} --process {process})"
    if not enabled:
        return "switched off in the configuration"
    parts = []
    if progress is not None:
        parts.append(f"running: run {progress.run_id}"
                     + ("" if progress.planned else ", still planning"))
    if overdue:
        since = f"since {last_ok:%Y-%m-%d %H:%M} UTC" if last_ok else "ever"
        parts.append(f"overdue: no successful run {since}")
    newest_failure = failure.started_at if failure else None
    if failure is not None and (last_ok is None or (newest_failure and newest_failure > last_ok)):
        parts.append(f"last run {failure.id} {failure.status}: {(failure.reason or '')[:160]}")
    if skipped is not None and progress is not None:
        parts.append(f"slot {skipped.slot} skipped: {skipped.reason}")
    if not parts and nxt is not None:
        parts.append(f"waits for its next slot at {nxt:%H:%M} UTC")
    return "; ".join(parts)


@dataclass
class OrderRow:
    order_id: int
    events: list[tuple[str, str]]  # (event, state) of the events that need attention
    cause: str | None
    since: datetime


def _attention() -> Any:
    return or_(*(getattr(OrderState, e).in_(ATTENTION) for e in ORDER_EVENTS))


def orders_needing_attention_count(session: Session, conn_id: str) -> int:
    return int(session.execute(
        select(func.count()).where(OrderState.connection_id == conn_id, _attention())
    ).scalar_one())


def orders_needing_attention(session: Session, conn_id: str) -> list[OrderRow]:
    """Orders with an event held, blocked, refused or failed, with the cause, newest first."""
    rows = session.execute(
        select(OrderState)
        .where(OrderState.connection_id == conn_id, _attention())
        .order_by(OrderState.updated_at.desc()).limit(LIST_LIMIT)
    ).scalars()
    return [
        OrderRow(
            r.plenty_order_id,
            [(e, getattr(r, e)) for e in ORDER_EVENTS if getattr(r, e) in ATTENTION],
            r.cause,
            r.updated_at,
        )
        for r in rows
    ]


@dataclass
class EventRow:
    delivery_id: int
    order_id: int
    event_type: str
    status: str
    attempts: int
    why: str | None
    next_attempt_at: datetime | None
    since: datetime


def events_waiting(session: Session, conn_id: str) -> list[EventRow]:
    """Order events not finished: waiting for a predecessor, retrying, or dead; oldest first."""
    rows = session.execute(
        select(EventDelivery)
        .where(EventDelivery.connection_id == conn_id, EventDelivery.status.in_(UNFINISHED))
        .order_by(EventDelivery.created_at).limit(LIST_LIMIT)
    ).scalars()
    return [
        EventRow(r.id, r.order_id, r.event_type, r.status, r.attempts, r.last_error,
                 r.next_attempt_at, r.created_at)
        for r in rows
    ]


@dataclass
class ApiRow:
    api: str
    breaker: dict[str, Any]
    budgets: list[tuple[str, dict[str, Any]]]


def apis(client: redis.Redis, conn_id: str) -> list[ApiRow]:
    """Breakers and rate budgets as every worker shares them in Redis."""
    out = []
    for api, st in connection_state(client, conn_id).items():
        budgets: list[tuple[str, dict[str, Any]]] = [
            (name, st[name]) for name in ("reads", "writes", "rate") if name in st
        ]
        out.append(ApiRow(api, st["breaker"], budgets))
    return out
