"""Why a run waits: the queued catalogue work a worker takes before the run's own next
message, by run (process and connection), for `spocc status` and `spocc sync`.

Kombu pushes a message on the left of its priority's list and a worker pops from the right,
the most urgent list first. So what is served before a run's oldest queued message is every
message of a more urgent list, and those to its right in its own list. Only the first
`SCAN` messages of each list are read: a figure past that is shown as a lower bound. On
RabbitMQ the same question is answered from SQL (`_ahead_in_tier_queue`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.catalogue_models import SyncUnit
from store.models import SyncRun
from tasks.catalogue import runs
from tasks.catalogue.registry import CATALOGUE_QUEUE, TIERS, tier
from workers import broker, queues, runtime

SCAN = 20_000


@dataclass(frozen=True)
class Ahead:
    """Queued messages served before the run's own, per other run."""

    by_run: dict[tuple[str, str], int]  # (process, connection) → messages
    more: bool  # a list was longer than SCAN: the counts are lower bounds

    def __str__(self) -> str:
        parts = [f"{n}{'+' if self.more else ''} unit(s) of {process} (connection {conn})"
                 for (process, conn), n in sorted(self.by_run.items(), key=lambda kv: -kv[1])]
        return "queued behind " + ", ".join(parts[:3]) + (
            f" and {len(parts) - 3} more run(s)" if len(parts) > 3 else "")


def _run_of(raw: bytes | str) -> int | None:
    call = queues.call_of(raw)
    if call is None:
        return None
    args, kwargs = call
    value = kwargs.get("run_id", args[1] if len(args) > 1 else None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ahead_of(session: Session, run: SyncRun) -> Ahead | None:
    """What is served before `run`'s next queued message; None when none of its messages
    waits in the queue (it is running, done, or its messages are not sent yet) or nothing
    is ahead of it."""
    if broker.amqp():
        return _ahead_in_tier_queue(session, run)
    client = runtime.redis_client()
    lists = queues.keys(CATALOGUE_QUEUE, tier(run.process))
    ahead: Counter[int] = Counter()
    more = False
    for key in reversed(lists):  # its own list first: is anything of the run queued?
        raws = client.lrange(key, 0, SCAN - 1)
        more = more or len(raws) == SCAN
        queued = [_run_of(raw) for raw in raws]
        if key == lists[-1]:
            if run.id not in queued:
                return None
            oldest = len(queued) - 1 - queued[::-1].index(run.id)  # nearest the popping end
            queued = queued[oldest + 1:]
        ahead.update(r for r in queued if r is not None and r != run.id)
    if not ahead:
        return None
    names = {row.id: (row.process, row.connection_id) for row in session.execute(
        select(SyncRun.id, SyncRun.process, SyncRun.connection_id)
        .where(SyncRun.id.in_(list(ahead))))}
    by_run: Counter[tuple[str, str]] = Counter()
    for run_id, n in ahead.items():
        by_run[names.get(run_id, ("an unknown run", "?"))] += n
    return Ahead(dict(by_run), more)


def _ahead_in_tier_queue(session: Session, run: SyncRun) -> Ahead | None:
    """On RabbitMQ, which cannot be read without taking: the other runs' units sent before
    the run's oldest waiting one into the same tier queue (`workers/broker.py`), from SQL. A
    worker takes from every tier queue in turn, so a more urgent queue's backlog is not
    ahead of it; each unit's message is sent when its row is written."""
    step = broker.step_of(tier(run.process))
    same_queue = [p for p in TIERS if broker.step_of(tier(p)) == step]
    oldest = session.execute(select(func.min(SyncUnit.created_at)).where(
        SyncUnit.run_id == run.id, SyncUnit.status == "pending")).scalar_one()
    if oldest is None and not run.planned:
        oldest = run.started_at  # nothing of it sent but its planner, sent as it started
    if oldest is None:
        return None
    rows = session.execute(
        select(SyncRun.process, SyncRun.connection_id, func.count())
        .join(SyncUnit, SyncUnit.run_id == SyncRun.id)
        .where(SyncUnit.status == "pending", SyncUnit.created_at < oldest,
               SyncRun.id != run.id, SyncRun.process.in_(same_queue))
        .group_by(SyncRun.process, SyncRun.connection_id)).all()
    by_run = {(process, conn): int(n) for process, conn, n in rows}
    return Ahead(by_run, False) if by_run else None


def why(session: Session, run: SyncRun) -> str | None:
    """`ahead_of` as a sentence, or None (also when Redis cannot be asked: the caller shows
    the rest of what it knows)."""
    if run.status == runs.QUEUED:
        return in_line(session, run)
    try:
        ahead = ahead_of(session, run)
    except broker.ERRORS:
        return None
    if ahead is not None:
        return str(ahead)
    if run.planned:
        return None
    waiting = runs.waiting_units(run.connection_id, tier(run.process))
    room = runtime.connection(run.connection_id, session).share.queued
    if waiting < room:
        return None
    return (f"plans more once some of its connection's {waiting} queued unit(s) start "
            f"(its share: share.queued {room})")


def in_line(session: Session, run: SyncRun) -> str:
    """For a run waiting in line: which run it waits for, and how far along that one is."""
    previous = runs.open_run(session, run.connection_id, run.process)
    if previous is None:
        return "waits in line: the run before it has closed, it starts within a minute"
    done = runs.settled(previous)
    progress = (f"{done}/{previous.found} variations done" if previous.planned
                else f"{done} variations done, still planning")
    return f"waits in line for run {previous.id} ({previous.trigger}, {progress})"
