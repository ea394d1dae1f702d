"""What operators do to the schedule: start a run now, pause and resume, read the state.

Used by the CLI (`spocc sync`, `spocc pause|resume`, `spocc status`); plain functions over a
session, no Celery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.config import PROCESSES
from store.catalogue_models import SyncUnit
from store.models import Connection, SyncRun, utcnow
from tasks.catalogue import claims, runs, waits


class ControlError(ValueError):
    pass


def start_run(
    session: Session,
    connection_id: str,
    process: str,
    *,
    trigger: str = "cli",
    full: bool = False,
    since: datetime | None = None,
    variation: str | None = None,
    dry_run: bool = False,
    wait: bool = True,
) -> SyncRun:
    """A run now, outside the schedule (its own slot, so it never collides with beat's).

    A run of the same process still open is not doubled: the new one waits in line behind it
    (status "queued") and starts when it closes; a second ask while one waits is skipped.
    """
    if process not in PROCESSES:
        raise ControlError(f"unknown process {process!r}; one of {', '.join(PROCESSES)}")
    if session.get(Connection, connection_id) is None:
        raise ControlError(f"unknown connection {connection_id!r}")
    options: dict[str, Any] = {"full": full, "dry_run": dry_run}
    if since is not None:
        options["since_date"] = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if variation is not None:
        options["variation"] = variation
    slot = f"{trigger}:{utcnow().strftime('%Y-%m-%dT%H:%M:%S')}:{uuid.uuid4().hex[:6]}"
    run = claims.claim_slot(session, connection_id, process, slot, trigger=trigger,
                          options=options, wait=wait)
    assert run is not None  # the slot is new by construction
    return run


def set_paused(
    session: Session, connection_id: str, paused: bool, process: str | None = None
) -> Connection:
    row = session.get(Connection, connection_id)
    if row is None:
        raise ControlError(f"unknown connection {connection_id!r}")
    if process is None:
        row.paused = paused
        if not paused:
            row.paused_processes = []
        return row
    if process not in PROCESSES:
        raise ControlError(f"unknown process {process!r}; one of {', '.join(PROCESSES)}")
    current = set(row.paused_processes or [])
    current = current | {process} if paused else current - {process}
    row.paused_processes = sorted(current)
    return row


@dataclass
class ProcessStatus:
    process: str
    last_success: SyncRun | None
    in_progress: SyncRun | None
    units_open: int
    last_failure: SyncRun | None


def catalogue_status(session: Session, connection_id: str) -> list[ProcessStatus]:
    """Per process: last successful run (with counts), the run in progress, the last failure."""
    out: list[ProcessStatus] = []
    for process in PROCESSES:
        current = runs.open_run(session, connection_id, process)
        units_open = 0
        if current is not None:
            units_open = session.execute(
                select(func.count()).where(
                    SyncUnit.run_id == current.id, SyncUnit.status.in_(("pending", "running"))
                )
            ).scalar_one()
        failure = session.execute(
            select(SyncRun)
            .where(
                SyncRun.connection_id == connection_id,
                SyncRun.process == process,
                SyncRun.status.in_(("failed", "timed_out")),
            )
            .order_by(SyncRun.started_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        out.append(
            ProcessStatus(
                process=process,
                last_success=runs.last_success(session, connection_id, process),
                in_progress=current,
                units_open=units_open,
                last_failure=failure,
            )
        )
    return out


def run_counts(run: SyncRun) -> str:
    return (
        f"found {run.found}, pushed {run.pushed}, unchanged {run.unchanged}, "
        f"skipped {run.skipped}, failed {run.failed}"
    )


def status_table(session: Session, connection_id: str) -> Any:
    """`catalogue_status` as a rich table, for `spocc status`."""
    from rich.table import Table

    table = Table(
        "process",
        "last success",
        "its counts",
        "in progress",
        "last failure",
        title=f"catalogue sync of {connection_id}",
    )

    def when(run: SyncRun | None) -> str:
        if run is None:
            return "-"
        stamp = run.finished_at or run.started_at
        return f"{stamp:%Y-%m-%d %H:%M} UTC (run {run.id})"

    for row in catalogue_status(session, connection_id):
        current = row.in_progress
        progress = "-"
        if current is not None:
            done = runs.settled(current)
            total = str(current.found) if current.planned else f"{current.found}+"
            progress = f"run {current.id}: {done}/{total}, {row.units_open} unit(s) open"
            waiting = waits.why(session, current)
            if waiting:
                progress += f"; {waiting}"
        in_line = runs.queued_run(session, connection_id, row.process)
        if in_line is not None:
            progress += f"; run {in_line.id} ({in_line.trigger}) waits in line behind it"
        failure = row.last_failure
        table.add_row(
            row.process,
            when(row.last_success),
            run_counts(row.last_success) if row.last_success else "-",
            progress,
            f"{when(failure)}: {(failure.reason or '')[:80]}" if failure else "-",
        )
    return table


def unmapped_channel_stores(conn: Any, spocc: Any) -> list[int]:
    """SPoCC channel stores with no warehouse mapped: their stock is not synced.

    For `spocc check` (a mapping that points at nothing is reported, not failed on):
    `conn` is the ConnectionConfig, `spocc` a `clients.SpoccClient` for it.
    """
    mapped = {w.channel_store for w in conn.mappings.warehouses}
    return sorted(
        int(s["number"]) for s in spocc.channel_stores() if int(s["number"]) not in mapped
    )
