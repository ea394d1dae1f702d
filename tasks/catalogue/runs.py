"""Runs and units in SQL: counting units done, closing runs (claiming a slot: `claims.py`).

No Celery here: the tick, the planner, the unit task, the sweeper and the CLI call these with
a session. Completion is counted in SQL (no chords): finishing a unit updates its run's
counts under the run row's lock, and whoever finishes the last unit of a planned run closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.catalogue_models import OPEN_RUN, OPEN_UNIT, CatalogueState, SyncUnit
from store.models import SyncRun, utcnow
from tasks.catalogue.leases import pending_until
from tasks.catalogue.sql import among
from workers import runtime

# a run asked for by hand while the process's run is open: it starts when that one closes
QUEUED = "queued"

__all__ = ["OPEN_RUN", "OPEN_UNIT", "UnitResult"]
# Closed runs: succeeded, failed (some unit failed for good), skipped, timed_out, cancelled.
CLOSED_OK = "succeeded"
DEAD_UNITS = "unit(s) failed for good"


@dataclass
class UnitResult:
    """What one unit did; counts are of variations (or articles, attributes)."""

    pushed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def open_run(session: Session, connection_id: str, process: str) -> SyncRun | None:
    return session.execute(
        select(SyncRun)
        .where(
            SyncRun.connection_id == connection_id,
            SyncRun.process == process,
            SyncRun.status.in_(OPEN_RUN),
        )
        .order_by(SyncRun.id)
        .limit(1)
    ).scalar_one_or_none()


def settled(run: SyncRun) -> int:
    """The run's keys dealt with so far, whatever the outcome (its progress)."""
    return run.pushed + run.unchanged + run.skipped + run.failed


def queued_run(session: Session, connection_id: str, process: str) -> SyncRun | None:
    return session.execute(
        select(SyncRun).where(SyncRun.connection_id == connection_id,
                              SyncRun.process == process, SyncRun.status == QUEUED)
        .order_by(SyncRun.id).limit(1)
    ).scalar_one_or_none()


def promote(session: Session, connection_id: str, process: str) -> int | None:
    """The run waiting in line for this process starts once no run of it is open: its id (its
    planner is to be sent after the commit), or None. One conditional UPDATE: of two callers
    at once, one starts it."""
    if open_run(session, connection_id, process) is not None:
        return None
    waiting = queued_run(session, connection_id, process)
    if waiting is None:
        return None
    started = session.execute(
        update(SyncRun).where(SyncRun.id == waiting.id, SyncRun.status == QUEUED)
        .values(status="running", reason=None, started_at=utcnow(),
                planner_until=pending_until())
        .execution_options(synchronize_session=False))
    return waiting.id if started.rowcount == 1 else None  # type: ignore[attr-defined]


def queued_runs(session: Session) -> list[tuple[str, str]]:
    """(connection, process) of every run waiting in line."""
    return [(c, p) for c, p in session.execute(
        select(SyncRun.connection_id, SyncRun.process).where(SyncRun.status == QUEUED)
        .distinct())]


def last_success(session: Session, connection_id: str, process: str, *also: str) -> SyncRun | None:
    """The latest successful run of `process` (or of the processes in `also`) over the whole
    catalogue: what a delta starts from."""
    return session.execute(
        select(SyncRun)
        .where(
            SyncRun.connection_id == connection_id,
            SyncRun.process.in_((process, *also)),
            SyncRun.status == CLOSED_OK,
            SyncRun.options["dry_run"].as_boolean().is_not(True),
            # one variation or a backfill from a date covers only part of the catalogue:
            # the next delta must not start from it
            SyncRun.options["variation"].as_string().is_(None),
            SyncRun.options["since_date"].as_string().is_(None),
        )
        .order_by(SyncRun.started_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def add_units(
    session: Session, run: SyncRun, batches: Sequence[tuple[int, list[str]]]
) -> list[SyncUnit]:
    """Insert the units (seq, keys) not there yet; returns the new ones."""
    if not batches:
        return []
    seqs = [seq for seq, _ in batches]
    existing = set(
        session.execute(
            select(SyncUnit.seq).where(SyncUnit.run_id == run.id, among(SyncUnit.seq, seqs))
        ).scalars()
    )
    # sent after the commit: until `pending_until` their messages have to start them
    until = pending_until()
    fresh = [
        SyncUnit(
            run_id=run.id,
            connection_id=run.connection_id,
            seq=seq,
            keys=keys,
            detail={},
            lease_until=until,
        )
        for seq, keys in batches
        if seq not in existing
    ]
    session.add_all(fresh)
    session.flush()
    return fresh


def finish_unit(
    session: Session,
    unit_id: int,
    result: UnitResult,
    status: str = "done",
    error: str | None = None,
) -> bool:
    """Record a unit's outcome once and add its counts to the run; closes a finished run.

    Two executions of one unit (a redelivery racing the original) both push the same
    absolute values; only the first to get here counts.
    """
    changed = session.execute(
        update(SyncUnit)
        .where(SyncUnit.id == unit_id, SyncUnit.status.in_(OPEN_UNIT))
        .values(
            status=status,
            pushed=result.pushed,
            unchanged=result.unchanged,
            skipped=result.skipped,
            failed=result.failed,
            error=error,
            detail=result.detail,
            updated_at=utcnow(),
        )
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        return False
    run_id = session.execute(select(SyncUnit.run_id).where(SyncUnit.id == unit_id)).scalar_one()
    # The UPDATE takes the run row's lock: finishing units of one run queue up here, so the
    # last one sees every other unit final and closes the run.
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(
            pushed=SyncRun.pushed + result.pushed,
            unchanged=SyncRun.unchanged + result.unchanged,
            skipped=SyncRun.skipped + result.skipped,
            failed=SyncRun.failed + result.failed,
        )
    )
    close_if_done(session, run_id)
    return True


def split_unit(
    session: Session, unit: SyncUnit, result: UnitResult, culprits: Sequence[str] = ()
) -> list[int]:
    """Replace a unit whose bulk call failed for good by smaller units; returns their ids.

    The keys the answer named (`culprits`) each get a unit of their own, the rest one unit;
    with none named the unit is halved (its halves are not halved again: see `unit.py`).
    The keys already handled (`result`) are counted now; the new units count the rest.
    """
    handled = set(result.detail.get("handled", []))
    rest = [k for k in unit.keys if k not in handled]
    named = [k for k in rest if k in set(culprits)]
    if named:
        others = [k for k in rest if k not in set(named)]
        parts = [[k] for k in named] + ([others] if others else [])
    else:
        middle = (len(rest) + 1) // 2
        parts = [p for p in (rest[:middle], rest[middle:]) if p]
    run = session.get_one(SyncRun, unit.run_id)
    # negative seqs, unique per parent unit, never meet the planner's
    batches = [(-(unit.id * 1000 + i), keys) for i, keys in enumerate(parts)]
    fresh = add_units(session, run, batches)
    for child in fresh:
        child.detail = {"part_of": unit.id, "halved": not named}
    new_ids = [u.id for u in fresh]
    session.execute(
        update(SyncRun).where(SyncRun.id == unit.run_id).values(units=SyncRun.units + len(new_ids))
    )
    finish_unit(session, unit.id, result, status="split")
    return new_ids


def mark_planned(session: Session, run_id: int) -> None:
    session.execute(update(SyncRun).where(SyncRun.id == run_id).values(planned=True))
    close_if_done(session, run_id)


def touched_kind(run_id: int) -> str:
    """`catalogue_state` rows naming the variations PlentyONE changed since the last full run
    (listed by the planner of a full run that is not deep; dropped when the run closes)."""
    return f"touched:{run_id}"


def _drop_run_state(session: Session, run_id: int) -> None:
    session.execute(delete(CatalogueState).where(CatalogueState.kind == touched_kind(run_id)))


def close_if_done(session: Session, run_id: int) -> bool:
    """Close a planned run whose units are all final. A run that failed for its dead units
    is settled again when one of them was replayed (`spocc dlq replay`): it succeeds once
    none is dead any more."""
    run = session.get_one(SyncRun, run_id, populate_existing=True)
    replayed = run.status == "failed" and run.reason is not None and DEAD_UNITS in run.reason
    if not run.planned or (run.status not in OPEN_RUN and not replayed):
        return False
    open_units = session.execute(
        select(func.count()).where(SyncUnit.run_id == run_id, SyncUnit.status.in_(OPEN_UNIT))
    ).scalar_one()
    if open_units:
        return False
    dead = session.execute(
        select(func.count()).where(SyncUnit.run_id == run_id, SyncUnit.status == "dead")
    ).scalar_one()
    run.finished_at = utcnow()
    _drop_run_state(session, run_id)
    if dead:
        first = session.execute(
            select(SyncUnit.error)
            .where(SyncUnit.run_id == run_id, SyncUnit.status == "dead")
            .order_by(SyncUnit.id)
            .limit(1)
        ).scalar_one_or_none()
        run.status = "failed"
        run.reason = (
            f"{dead} {DEAD_UNITS} ({run.failed} item(s)); see `spocc dlq list`. "
            f"First: {(first or '')[:300]}"
        )
    else:
        run.reason = "its failed units succeeded when replayed" if replayed else None
        run.status = CLOSED_OK
    session.flush()
    return True


def time_out(session: Session, run: SyncRun, reason: str) -> None:
    session.execute(
        update(SyncUnit)
        .where(SyncUnit.run_id == run.id, SyncUnit.status.in_(OPEN_UNIT))
        .values(status="timed_out", updated_at=utcnow())
    )
    _drop_run_state(session, run.id)
    run.status = "timed_out"
    run.reason = reason
    run.finished_at = utcnow()
    session.flush()


def waiting_units(connection_id: str, up_to_tier: int) -> int:
    """The connection's units sent and not yet started, of its open runs served no later
    than `up_to_tier` (the planners' back-pressure, `share.queued`)."""
    with runtime.db() as session:
        return int(session.execute(
            select(func.count()).select_from(SyncUnit)
            .join(SyncRun, SyncRun.id == SyncUnit.run_id)
            .where(SyncRun.connection_id == connection_id, *_open_and_served(up_to_tier),
                   SyncUnit.status == "pending")
        ).scalar_one())


def others_waiting(connection_id: str, up_to_tier: int) -> int:
    """How many other connections wait for a worker with work served no later than
    `up_to_tier`: units queued, or a run whose planner has not planned all of it yet (its
    planner's message waits in the same queue). Those a planner shares the queue with."""
    pending = (select(SyncUnit.id).where(SyncUnit.run_id == SyncRun.id,
                                         SyncUnit.status == "pending").exists())
    with runtime.db() as session:
        return int(session.execute(
            select(func.count(func.distinct(SyncRun.connection_id)))
            .where(SyncRun.connection_id != connection_id, *_open_and_served(up_to_tier),
                   SyncRun.planned.is_(False) | pending)
        ).scalar_one())


def fair_room(queued: int, others: int) -> int:
    """How many units a connection keeps waiting while `others` connections have some
    waiting too: its `share.queued`, split evenly with them (at least one). The queue is a
    FIFO, so a connection with 1,000 units to go and one with 2 are then served about
    alternately (a round-robin through the queue); a larger `share.queued` is a weight."""
    return max(1, queued // (others + 1))


def _open_and_served(up_to_tier: int) -> tuple[Any, Any]:
    """Open runs of the processes served no later than `up_to_tier`."""
    from tasks.catalogue.registry import TIERS, tier  # the registry's processes import us

    served = [p for p in TIERS if tier(p) <= up_to_tier]
    return SyncRun.status.in_(OPEN_RUN), SyncRun.process.in_(served)


def open_runs(session: Session) -> list[SyncRun]:
    return list(session.execute(select(SyncRun).where(SyncRun.status.in_(OPEN_RUN))).scalars())


def age(run: SyncRun, now: datetime | None = None) -> timedelta:
    return (now or utcnow()) - run.started_at
