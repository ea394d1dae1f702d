"""Running one unit: load it by id, push its keys through its process, count it once."""

from __future__ import annotations

import logging

from store.catalogue_models import SyncUnit
from store.models import SyncRun
from tasks.catalogue import runs
from tasks.catalogue.context import context
from tasks.catalogue.planner import Send
from tasks.catalogue.process import SplitUnit, Work
from tasks.catalogue.registry import PROCESSES
from workers import runtime

log = logging.getLogger(__name__)


def run_unit(connection_id: str, run_id: int, unit_id: int, send: Send) -> str:
    """Do one unit; answers what happened ("done", "split", "final" when already done)."""
    with runtime.db() as session:
        unit = runs.start_unit(session, unit_id)
        if unit is None:
            return "final"
        keys = list(unit.keys)
        run = session.get_one(SyncRun, run_id)
    ctx = context(connection_id)
    try:
        # no transaction is open here: the process reads and records in short ones of its own
        result = PROCESSES[run.process].push(Work(ctx, run, keys))
        with runtime.db() as session:
            runs.finish_unit(session, unit_id, result)
    except SplitUnit as split:
        with runtime.db() as session:
            unit_row = session.get_one(SyncUnit, unit_id)
            if not split.culprits and (unit_row.detail or {}).get("halved"):
                # the half of a unit failing as its whole did, naming no record: an error
                # every key meets; splitting further would only spend the write budget
                raise split.cause from split
            new_ids = runs.split_unit(session, unit_row, split.result, split.culprits)
        log.info(
            "unit %s of run %s: %s; redone as %d units", unit_id, run_id, split, len(new_ids)
        )
        for new_id in new_ids:
            send(connection_id, run_id, new_id)
        return "split"
    return "done"


def dead(unit_id: int, error: str) -> None:
    """A unit that failed for good: its keys count as failed, the run is marked."""
    with runtime.db() as session:
        unit = session.get(SyncUnit, unit_id)
        if unit is None:
            return
        runs.finish_unit(
            session,
            unit_id,
            runs.UnitResult(failed=len(unit.keys), detail={"keys": unit.keys[:20]}),
            status="dead",
            error=error[:2000],
        )
