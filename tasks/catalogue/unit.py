"""Running one unit: load it by id, push its keys through its process, count it once."""

from __future__ import annotations

import logging

from store.catalogue_models import SyncUnit
from store.models import SyncRun
from tasks.catalogue import leases, runs
from tasks.catalogue.context import context
from tasks.catalogue.planner import Send
from tasks.catalogue.process import SplitUnit, Work
from tasks.catalogue.registry import PROCESSES
from workers import runtime

log = logging.getLogger(__name__)


class LostTooOften(Exception):
    """The unit's worker was lost (killed, or past the hard time limit) too many times."""


def run_unit(connection_id: str, run_id: int, unit_id: int, send: Send, owner: str) -> str:
    """Do one unit; answers what happened: "done", "split", "final" (already done), "held"
    (another worker holds its lease; the sweeper sends it again if that one dies) or "busy"
    (the connection runs its share of units already: not started)."""
    with runtime.db() as session:
        share = runtime.connection(connection_id, session).share
        unit, outcome = leases.claim_unit(session, unit_id, owner, share.concurrency)
        if unit is None:
            return outcome
        keys, lost = list(unit.keys), unit.lost
        run = session.get_one(SyncRun, run_id)
    cap = runtime.settings().attempt_cap
    if lost >= cap:
        raise LostTooOften(
            f"unit {unit_id}: its worker was lost {lost} times (killed, or stopped at the hard "
            f"time limit); not started again (cap {cap})"
        )
    ctx = context(connection_id)
    try:
        # no transaction is open here: the process reads and records in short ones of its
        # own, while the lease is renewed beside it
        with leases.Renewal(f"unit-{unit_id}", lambda s: leases.renew_unit(s, unit_id, owner)):
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
