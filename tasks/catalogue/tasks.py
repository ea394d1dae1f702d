"""The Celery tasks of the catalogue sync: tick, sweep, one planner per process, the unit."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from functools import lru_cache
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import IntegrityError, OperationalError

from clients.errors import RateLimitTimeout, RetryableError
from store.models import SyncRun
from tasks.catalogue import control, leases, planner, runs, schedule, unit
from tasks.catalogue.registry import CATALOGUE_QUEUE, PROCESSES, planner_name, task_for, tier
from workers import runtime
from workers.celery_app import app
from workers.declare import spocc_task
from workers.task_base import SpoccTask

# Retried, not dead-lettered: the API's and the database's passing troubles (a deadlock, two
# units linking the same variation at once).
# A soft time limit is passing too: the unit goes on where it stopped (its writes are absolute
# and its state is recorded as it goes).
TRANSIENT = (RetryableError, OperationalError, IntegrityError, SoftTimeLimitExceeded)
# how long a unit whose connection runs its share waits before it asks again, at least
BUSY_WAIT = 1.0
RUN_TIMEOUT = timedelta(hours=float(os.environ.get("SPOCC_CATALOGUE_RUN_TIMEOUT_HOURS", "20")))


@lru_cache(maxsize=4096)
def _unit_tier(run_id: int) -> int:
    # A planner sends thousands of units of one run: its tier is asked once. Only the
    # priority comes from here (a reused row id costs an order, never the wrong task).
    found = schedule.process_of(run_id)
    return tier(found[1] if found is not None else "")


def send_unit(connection_id: str, run_id: int, unit_id: int) -> None:
    sync_unit.apply_async(args=(connection_id, run_id, unit_id), queue=CATALOGUE_QUEUE,
                          priority=_unit_tier(run_id))


def send_planner(connection_id: str, run_id: int, countdown: float = 0) -> None:
    found = schedule.process_of(run_id)
    if found is None:
        return
    process = found[1]
    name, queue = task_for(process)
    app.send_task(name, args=(connection_id, run_id), queue=queue, countdown=countdown or None,
                  priority=tier(process))


@spocc_task("spocc.catalogue.tick", queue="default", max_retries=0, soft_time_limit=50,
            periodic=True)
def tick(self: Any) -> int:
    """Every minute: claim each due slot of each connection and start its run."""
    started = schedule.tick()
    for s in started:
        app.send_task(s.task, args=(s.connection_id, s.run_id), queue=s.queue,
                      priority=tier(s.process))
    return len(started)


@spocc_task("spocc.catalogue.sweep", queue="default", max_retries=0, soft_time_limit=50,
            periodic=True)
def sweep(self: Any) -> dict[str, int]:
    report = schedule.sweep(RUN_TIMEOUT)
    for run_id in report.planners_resent:
        found = schedule.process_of(run_id)
        if found is not None:
            send_planner(found[0], run_id)
    for connection_id, run_id, unit_id in report.units_resent:
        send_unit(connection_id, run_id, unit_id)
    return {
        "closed": report.closed,
        "timed_out": report.timed_out,
        "planners": len(report.planners_resent),
        "units": len(report.units_resent),
    }


def _plan(self: Any, connection_id: str, run_id: int) -> bool:
    with leases.Renewal(f"planner-{run_id}", lambda s: leases.renew_planner(s, run_id)):
        done = planner.plan_slice(connection_id, run_id, send_unit)
    if not done:
        # the rest in a new message (back-pressure, or the slice's time is up), which holds
        # the planner's lease until it starts
        with runtime.db() as session:
            leases.renew_planner(session, run_id, leases.PENDING_GRACE)
        send_planner(connection_id, run_id, countdown=1)
    else:
        _if_closed(connection_id, run_id)  # a run with nothing to do closes here
    return done


class PlannerTask(SpoccTask):
    abstract = True

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        run_id = kwargs.get("run_id", args[1] if len(args) > 1 else None)
        return f"planner:run:{run_id}" if isinstance(run_id, int) else None

    def before_deferral(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                        countdown: float) -> None:
        # the sweeper must not send a second planner while this one waits for its budget
        run_id = kwargs.get("run_id", args[1] if len(args) > 1 else None)
        if isinstance(run_id, int):
            with runtime.db() as session:
                leases.renew_planner(session, run_id, countdown + leases.PENDING_GRACE)

    def on_dead_letter(
        self,
        session: Any,
        dead_letter_id: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException,
    ) -> None:
        run_id = kwargs.get("run_id", args[1] if len(args) > 1 else None)
        if isinstance(run_id, int):
            planner.give_up(
                run_id,
                f"planner failed: {type(exc).__name__}: {exc} (dead letter {dead_letter_id})",
            )


def _planner_task(process: str) -> Any:
    return spocc_task(
        planner_name(process),
        queue=CATALOGUE_QUEUE,
        retry_for=TRANSIENT,
        max_retries=8,
        base=PlannerTask,
    )(_plan)


PLANNERS = {name: _planner_task(name) for name in PROCESSES}


class UnitTask(SpoccTask):
    abstract = True

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        unit_id = kwargs.get("unit_id", args[2] if len(args) > 2 else None)
        return f"unit:{unit_id}" if isinstance(unit_id, int) else None

    def on_dead_letter(
        self,
        session: Any,
        dead_letter_id: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException,
    ) -> None:
        unit_id = kwargs.get("unit_id", args[2] if len(args) > 2 else None)
        if isinstance(unit_id, int):
            unit.dead(unit_id, f"{type(exc).__name__}: {exc} (dead letter {dead_letter_id})")


@spocc_task(
    "spocc.catalogue.unit",
    queue=CATALOGUE_QUEUE,
    retry_for=TRANSIENT,
    max_retries=8,
    base=UnitTask,
)
def sync_unit(self: Any, connection_id: str, run_id: int, unit_id: int) -> str:
    owner = leases.new_owner(f"u{unit_id}:{self.request.id}")[:64]
    try:
        outcome = unit.run_unit(connection_id, run_id, unit_id, send_unit, owner)
    except RateLimitTimeout as exc:
        deferral = self.out_of_budget((connection_id, run_id, unit_id), {}, exc)
        with runtime.db() as session:  # pending again: the deferred message claims it anew
            leases.release_unit(session, unit_id, owner, deferral.countdown)
        raise deferral from exc
    if outcome == "held":
        # a second message of a unit another worker holds (a broker redelivery, a resend):
        # come back when that lease would have run out; a hold, not an attempt
        with runtime.db() as session:
            wait = leases.held_for(session, unit_id)
        if wait is not None:
            self.defer(wait + 1, f"unit {unit_id} is held by another worker's lease")
        return outcome
    if outcome == "busy":
        # the connection runs its share already: this worker goes to another connection's
        # work, and the unit comes back once one of its own has finished
        countdown = BUSY_WAIT + random.uniform(0.0, BUSY_WAIT)
        with runtime.db() as session:
            leases.postpone_unit(session, unit_id, countdown)
        self.defer(countdown, f"connection {connection_id} runs its share of units already "
                              "(share.concurrency)")
    _if_closed(connection_id, run_id)
    return outcome


def _if_closed(connection_id: str, run_id: int) -> None:
    """What follows a run that has just closed (nothing while it is open): the run waiting
    in line for its process starts now (the sweeper would within a minute), and the
    variations an item import created get their stock and prices."""
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status == "running":
            return
        promoted = runs.promote(session, connection_id, run.process)
        imported = (run.process == "item_import" and run.pushed > 0
                    and not run.options.get("dry_run"))
    if promoted is not None:
        start(connection_id, promoted)
    if imported:
        _follow_up(connection_id, run_id)


def _follow_up(connection_id: str, run_id: int) -> None:
    """Variations an item import created get their stock and prices now, not at the next
    daily full run: a full run (not deep) picks exactly the never-pushed ones."""
    if not runtime.redis_client().set(
        f"spocc:{connection_id}:followed:{run_id}", "1", nx=True, ex=7 * 86_400
    ):
        return
    with runtime.db() as session:
        follow = control.start_run(session, connection_id, "stock_full", trigger="resync")
        follow_id, status = follow.id, follow.status
    if status == "running":
        start(connection_id, follow_id)


def start(connection_id: str, run_id: int) -> None:
    """Send the planner of a run just claimed (after its commit)."""
    send_planner(connection_id, run_id)
