"""Claiming a slot's run: one by hand or by beat (`claim_slot`), or beat's whole tick's at
once (`claim_scheduled`). The unique (connection, process, slot) settles races between
beats; a slot whose previous run is still open is recorded as skipped, or queued behind it
when it was asked for by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.catalogue_models import OPEN_RUN
from store.db import insert_for
from store.models import SyncRun, utcnow
from tasks.catalogue.leases import pending_until
from tasks.catalogue.runs import QUEUED, open_run, queued_run
from tasks.catalogue.sql import among


def still_open(run_id: int, slot: str) -> str:
    """Why a scheduled slot was skipped."""
    return f"previous run {run_id} (slot {slot}) is still open"


def claim_slot(
    session: Session,
    connection_id: str,
    process: str,
    slot: str,
    trigger: str = "beat",
    options: dict[str, Any] | None = None,
    wait: bool = False,
) -> SyncRun | None:
    """Insert the run of this slot, or None when the slot was claimed already.

    The unique (connection, process, slot) settles races between beats. When the previous
    run of the process is still open, a scheduled slot is recorded as skipped, not started;
    one asked to `wait` (a run asked for by hand) is queued behind it and started when it
    closes (`promote`); one already waiting makes a second ask a skip.
    """
    previous = open_run(session, connection_id, process)
    run = SyncRun(
        connection_id=connection_id,
        process=process,
        slot=slot,
        trigger=trigger,
        status="running",
        options=dict(options or {}),
        # its planner is sent after the commit: until then its message has to start it
        planner_until=pending_until(),
    )
    in_line = queued_run(session, connection_id, process) if wait else None
    if previous is not None and wait and in_line is None:
        run.status = QUEUED
        run.reason = f"waits in line for run {previous.id} (slot {previous.slot}) to close"
        run.planner_until = None
    elif previous is not None:
        run.status = "skipped"
        run.reason = (f"run {in_line.id} already waits in line for run {previous.id}"
                      if in_line is not None else still_open(previous.id, previous.slot))
        run.finished_at = utcnow()
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


@dataclass(frozen=True)
class Claimed:
    connection_id: str
    process: str
    run_id: int
    status: str


def claim_scheduled(session: Session, slots: Sequence[tuple[str, str, str]],
                    chunk: int = 500) -> list[Claimed]:
    """`claim_slot` for many of beat's slots at once, in a few statements a chunk: one read of
    the open runs, one multi-row INSERT … ON CONFLICT DO NOTHING. 1,000 connections x 7
    processes all due (beat's first tick, or its first after an outage) took 38 s one slot at
    a time. Returns the runs this call inserted; a slot another beat inserted first is left
    out, as `claim_slot` leaves it. Callers pass slots in one order (beat's: by connection),
    so two beats inserting at once wait on each other instead of deadlocking."""
    claimed: list[Claimed] = []
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = (insert_for(session)(SyncRun)
                 .on_conflict_do_nothing(index_elements=["connection_id", "process", "slot"])
                 .returning(SyncRun.connection_id, SyncRun.process, SyncRun.id, SyncRun.status))
    for start in range(0, len(slots), chunk):
        part = slots[start:start + chunk]
        previous: dict[tuple[str, str], tuple[int, str]] = {}
        for conn, process, run_id, slot in session.execute(
                select(SyncRun.connection_id, SyncRun.process, SyncRun.id, SyncRun.slot)
                .where(among(SyncRun.connection_id, sorted({c for c, _, _ in part})),
                       SyncRun.status.in_(OPEN_RUN))
                .order_by(SyncRun.id)):
            previous.setdefault((conn, process), (run_id, slot))
        now, until = utcnow(), pending_until()
        rows: list[dict[str, Any]] = []
        for conn, process, slot in part:
            row: dict[str, Any] = {
                "connection_id": conn, "process": process, "slot": slot, "trigger": "beat",
                "status": "running", "reason": None, "finished_at": None,
                "started_at": now, "options": {}, "planner_until": until}
            if (conn, process) in previous:
                run_id, its_slot = previous[(conn, process)]
                row.update(status="skipped", planner_until=None, finished_at=now,
                           reason=still_open(run_id, its_slot))
            rows.append(row)
        if postgres:
            inserted = session.connection().execute(_from_arrays(statement), _as_arrays(rows))
        else:  # SQLite: an executemany, one statement compiled once (a local call each row)
            inserted = session.connection().execute(statement, rows)
        claimed.extend(Claimed(*r) for r in inserted)
    return claimed


# On PostgreSQL the rows go as one array a column, unnested by the server: a statement of ten
# parameters. The same rows as a multi-row VALUES made psycopg split a statement of 5,000
# placeholders in Python for every chunk: 2 of a 3.7 s tick at 1,000 connections.
_STAMP = DateTime(timezone=True)
_ARRAYS: dict[str, Any] = {
    "connection_id": String, "process": String, "slot": String, "status": String,
    "reason": Text, "finished_at": _STAMP, "planner_until": _STAMP}


def _from_arrays(statement: Any) -> Any:
    rows = func.unnest(*(bindparam(name, type_=postgresql.ARRAY(kind))
                         for name, kind in _ARRAYS.items())
                       ).table_valued(*_ARRAYS).render_derived(name="r")
    constants = {"trigger": bindparam("trigger", type_=String),
                 "started_at": bindparam("started_at", type_=_STAMP),
                 "options": bindparam("options", type_=JSON)}
    return statement.from_select([*_ARRAYS, *constants],
                                 select(*(rows.c[name] for name in _ARRAYS), *constants.values()))


def _as_arrays(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]  # a chunk is never empty; these three are the same in every row
    return {**{name: [row[name] for row in rows] for name in _ARRAYS},
            "trigger": first["trigger"], "started_at": first["started_at"],
            "options": first["options"]}
