"""The tick (what beat runs every minute) and the sweeper, as plain functions.

The tick reads every connection's configuration from the database, so a changed interval,
a process switched off or a pause takes effect at the next tick, with nothing restarted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.config import ConfigError
from store.models import Connection, SyncRun, utcnow
from store.secrets import SecretKeyError
from tasks.catalogue import claims, leases, runs
from tasks.catalogue.registry import PROCESSES, task_for
from tasks.catalogue.slots import offset_minutes, slot_key
from tasks.catalogue.sql import among
from workers import runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    connection_id: str
    process: str
    run_id: int
    task: str
    queue: str


def tick(now: datetime | None = None) -> list[Started]:
    """Claim this minute's due slots; returns the runs to start (sent after the commit).

    The slots already claimed are read in a few indexed queries first, so a minute with
    nothing due costs no insert, and 1,000 connections x 7 processes stay within seconds.
    """
    now = now or utcnow()
    started: list[Started] = []
    with runtime.db() as session:
        wanted: list[tuple[str, str, str]] = []
        rows = session.execute(select(Connection).order_by(Connection.id)).scalars().all()
        for row in rows:
            if row.paused:
                continue
            try:
                conn = runtime.connection(row.id, session, revision=row.revision)
            except (ConfigError, SecretKeyError, ValueError) as exc:
                # one retailer's broken configuration never stops the others'; `spocc status`
                # names it
                log.error("connection %s: configuration unreadable, not scheduled: %s", row.id, exc)
                continue
            paused = set(row.paused_processes or [])
            for process, setting in conn.processes.items():
                if not setting.enabled or process in paused:
                    continue
                interval = setting.interval_minutes
                wanted.append((row.id, process,
                               slot_key(now, interval, offset_minutes(row.id, interval))))
        taken = _claimed(session, wanted)
        for run in claims.claim_scheduled(session, [w for w in wanted if w not in taken]):
            if run.status == "running":
                task, queue = task_for(run.process)
                started.append(Started(run.connection_id, run.process, run.run_id, task,
                                       queue))
    return started


def _claimed(session: Session, slots: list[tuple[str, str, str]], chunk: int = 500
             ) -> set[tuple[str, str, str]]:
    """Which of these (connection, process, slot) have their run already.

    Read by connection and slot, each an `IN` list the unique key's index answers, then
    matched here: a row-value `IN` of 500 triples was planned as a scan comparing every
    stored run with every triple (0.4 s a chunk at 1,000 connections)."""
    found: set[tuple[str, str, str]] = set()
    for start in range(0, len(slots), chunk):
        part = set(slots[start:start + chunk])
        rows = session.execute(
            select(SyncRun.connection_id, SyncRun.process, SyncRun.slot)
            .where(among(SyncRun.connection_id, sorted({c for c, _, _ in part})),
                   among(SyncRun.slot, sorted({s for _, _, s in part})))).all()
        found.update(key for key in ((r[0], r[1], r[2]) for r in rows) if key in part)
    return found


@dataclass
class SweepReport:
    closed: int = 0
    timed_out: int = 0
    planners_resent: list[int] = field(default_factory=list)
    units_resent: list[tuple[str, int, int]] = field(default_factory=list)


def sweep(run_timeout: timedelta, now: datetime | None = None) -> SweepReport:
    """Close finished runs, time out old ones, and find the work whose lease ran out.

    A unit or planner whose worker died (its lease was not renewed), or whose message was
    lost before it started (with Redis), is sent again, whatever the queue holds: the
    conditional claim lets only one copy run it.
    """
    now = now or utcnow()
    report = SweepReport()
    with runtime.db() as session:
        for run in runs.open_runs(session):
            if run.process not in PROCESSES:
                continue  # other domains (order status) close their own runs
            if now - aware(run.started_at) > run_timeout:
                runs.time_out(session, run, f"not finished within {run_timeout}")
                report.timed_out += 1
                continue
            if run.planned:
                if runs.close_if_done(session, run.id):
                    report.closed += 1
                continue
            until = run.planner_until or aware(run.started_at) + timedelta(
                seconds=leases.PENDING_GRACE
            )
            if aware(until) < now:
                run.planner_until = leases.pending_until()
                report.planners_resent.append(run.id)
        for connection_id, process in runs.queued_runs(session):
            promoted = runs.promote(session, connection_id, process)
            if promoted is not None:
                report.planners_resent.append(promoted)
        expired = leases.expired_units(session, now)
        leases.resend(session, expired, now)
        report.units_resent = [(u.connection_id, u.run_id, u.id) for u in expired]
    return report


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands `DateTime(timezone=True)` back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def process_of(run_id: int) -> tuple[str, str] | None:
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        return (run.connection_id, run.process) if run is not None else None
