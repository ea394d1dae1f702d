"""The tick (what beat runs every minute) and the sweeper, as plain functions.

The tick reads every connection's configuration from the database, so a changed interval,
a process switched off or a pause takes effect at the next tick, with nothing restarted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from schemas.config import ConfigError
from store import config_store
from store.catalogue_models import SyncUnit
from store.models import Connection, SyncRun, utcnow
from tasks.catalogue import runs
from tasks.catalogue.registry import PROCESSES, task_for
from tasks.catalogue.slots import slot_key
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
    """Claim this minute's due slots; returns the runs to start (sent after the commit)."""
    now = now or utcnow()
    started: list[Started] = []
    with runtime.db() as session:
        rows = session.execute(select(Connection).order_by(Connection.id)).scalars().all()
        for row in rows:
            if row.paused:
                continue
            try:
                conn = config_store.load(session, runtime.secret_box(), row.id)
            except (ConfigError, ValueError) as exc:
                log.error("connection %s: configuration unreadable, not scheduled: %s", row.id, exc)
                continue
            paused = set(row.paused_processes or [])
            for process, setting in conn.processes.items():
                if not setting.enabled or process in paused:
                    continue
                run = runs.claim_slot(
                    session, row.id, process, slot_key(now, setting.interval_minutes)
                )
                if run is not None and run.status == "running":
                    task, queue = task_for(process)
                    started.append(Started(row.id, process, run.id, task, queue))
    return started


@dataclass
class SweepReport:
    closed: int = 0
    timed_out: int = 0
    planners_resent: list[int] | None = None
    units_resent: list[tuple[str, int, int]] | None = None


def sweep(
    run_timeout: timedelta,
    stale_after: timedelta,
    queue_empty: bool,
    now: datetime | None = None,
) -> SweepReport:
    """Close finished runs, time out old ones, find work whose message was lost.

    A pending or running unit is resent only when the catalogue queue is empty (its message
    cannot still be waiting there) and it has not moved for `stale_after`; a planner is
    resent when its run is not fully planned and the planner has not worked for as long.
    """
    now = now or utcnow()
    report = SweepReport(planners_resent=[], units_resent=[])
    with runtime.db() as session:
        for run in runs.open_runs(session):
            if run.process not in PROCESSES:
                continue  # other domains (order status) close their own runs
            if now - run.started_at > run_timeout:
                runs.time_out(session, run, f"not finished within {run_timeout}")
                report.timed_out += 1
                continue
            if run.planned:
                if runs.close_if_done(session, run.id):
                    report.closed += 1
                continue
            last = run.options.get("planner_at") if run.options else None
            seen = datetime.fromisoformat(last) if last else run.started_at
            if now - seen > stale_after:
                run.options = {**run.options, "planner_at": now.isoformat()}
                report.planners_resent.append(run.id)  # type: ignore[union-attr]
        if queue_empty:
            for unit in runs.stale_units(session, now - stale_after):
                report.units_resent.append((unit.connection_id, unit.run_id, unit.id))  # type: ignore[union-attr]
            ids = [u for _, _, u in report.units_resent or []]
            if ids:
                session.execute(update(SyncUnit).where(SyncUnit.id.in_(ids)).values(updated_at=now))
    return report


def process_of(run_id: int) -> tuple[str, str] | None:
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        return (run.connection_id, run.process) if run is not None else None
