"""Does the system need a person? What `spocc status` (and the console's system page) reads.

One pass over the shared state — SQL, Redis and the live workers — gives a `Health`: queue
depths with their consumers, beat's last tick, open dead letters (those of no connection
too), the order events waiting per connection, each scheduled process's last success, and
the list of `problems` that need a person:

- an open dead letter;
- beat silent for more than two of its ticks (`beat_health.LOOP_SECONDS` each);
- a queue no live worker consumes;
- a scheduled process whose last success is older than twice its interval;
- an order event held past its horizon (`SPOCC_HELD_HORIZON_SECONDS`);
- a connection whose configuration does not load (a secret under another key, say).

`unreachable` names the database, Redis or the broker (when it is RabbitMQ) when one cannot
be reached: then the report is partial, and `spocc status` exits 2 so that cron or a monitor
can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from store import config_store
from store.models import Connection, DeadLetter, SyncRun, utcnow
from store.operator_models import ConfigRevision
from store.secrets import SecretKeyError
from tasks.orders import health as order_health
from workers import beat_health, broker, dlq_actions, runtime
from workers.settings import QUEUES

BEAT_SILENT_TICKS = 2
OVERDUE_FACTOR = 2
# A busy worker answers control messages from its main process; 2 s leaves room on a
# loaded machine without making `spocc status` slow.
INSPECT_SECONDS = 2.0


@dataclass(frozen=True)
class Problem:
    kind: str  # dead_letters | beat | queue | overdue | held | config
    subject: str  # what it is about: "connection shop-a", "queue orders", "beat"
    detail: str


@dataclass(frozen=True)
class ProcessAge:
    connection_id: str
    process: str
    interval: timedelta
    last_success: datetime | None
    since: datetime | None  # what its age counts from: the last success, else its start

    def overdue(self, now: datetime) -> bool:
        return self.since is not None and now - self.since > OVERDUE_FACTOR * self.interval


@dataclass
class Health:
    now: datetime
    # "database" | "redis" | "broker" → why
    unreachable: dict[str, str] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, list[str]] = field(default_factory=dict)  # queue → worker names
    workers: list[str] = field(default_factory=list)
    beat_last_tick: datetime | None = None
    beat_holder: str | None = None
    open_dead_letters: dict[str | None, int] = field(default_factory=dict)  # None: no connection
    orphan_groups: list[dlq_actions.Group] = field(default_factory=list)
    deliveries: dict[str, dict[str, order_health.Bucket]] = field(default_factory=dict)
    processes: list[ProcessAge] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def beat_age(self) -> float | None:
        if self.beat_last_tick is None:
            return None
        return (self.now - self.beat_last_tick).total_seconds()

    @property
    def exit_code(self) -> int:
        """0 all well, 1 a person is needed, 2 the database or Redis cannot be reached."""
        return 2 if self.unreachable else 1 if self.problems else 0


def gather() -> Health:
    """The whole report (the live workers are asked which queues they consume)."""
    health = Health(now=utcnow())
    _database(health)
    _redis(health)
    return health


def _database(health: Health) -> None:
    try:
        with runtime.db() as session:
            session.execute(text("SELECT 1"))
            _dead_letters(health, session)
            _processes(health, session)
        health.beat_last_tick = beat_health.last_tick()
        health.beat_holder = beat_health.last_holder()
        health.deliveries = order_health.deliveries(now=health.now)
    except SQLAlchemyError as exc:
        health.unreachable["database"] = _why(exc)
        return
    silent = BEAT_SILENT_TICKS * beat_health.LOOP_SECONDS
    age = health.beat_age
    if age is None:
        health.problems.append(
            Problem("beat", "beat", "beat has never ticked: is `spocc beat` running?")
        )
    elif age > silent:
        health.problems.append(
            Problem("beat", "beat", f"beat silent for {age:.0f} s (more than {silent:.0f} s): "
                    "no sync is scheduled and no sweeper runs")
        )
    horizon = runtime.settings().orders.held_horizon
    for conn, buckets in sorted(health.deliveries.items()):
        held = buckets["held"]
        if held.oldest_seconds is not None and held.oldest_seconds > horizon:
            health.problems.append(
                Problem("held", f"connection {conn}",
                        f"an order event held for {span(held.oldest_seconds)} "
                        f"(horizon {span(horizon)}): `spocc orders` shows why")
            )


def _dead_letters(health: Health, session: Session) -> None:
    health.open_dead_letters = {
        conn: int(n)
        for conn, n in session.execute(
            select(DeadLetter.connection_id, func.count())
            .where(DeadLetter.status == "open")
            .group_by(DeadLetter.connection_id)
        ).all()
    }
    if health.open_dead_letters.get(None):
        health.orphan_groups = dlq_actions.groups(
            session, dlq_actions.LetterFilter(connection_id=dlq_actions.NO_CONNECTION)
        )
    for conn, n in sorted(health.open_dead_letters.items(), key=lambda kv: kv[0] or ""):
        who = f"connection {conn}" if conn else "no connection"
        flag = "--connection -" if conn is None else f"--connection {conn}"
        health.problems.append(
            Problem("dead_letters", who, f"{n} open dead letter(s): `spocc dlq groups {flag}`")
        )


def _processes(health: Health, session: Session) -> None:
    """Each scheduled (enabled, not paused) process of each connection, with its age."""
    last = _by_process(session, func.max(SyncRun.finished_at), SyncRun.status == "succeeded")
    first_run = _by_process(session, func.min(SyncRun.started_at), None)
    first_applied = dict(
        session.execute(
            select(ConfigRevision.connection_id, func.min(ConfigRevision.applied_at))
            .group_by(ConfigRevision.connection_id)
        ).all()
    )
    for row in session.execute(select(Connection).order_by(Connection.id)).scalars():
        if row.paused:
            continue
        try:
            conn = runtime.connection(row.id, session)
        except config_store.UnknownConnection:
            continue  # removed between the two reads
        except (SecretKeyError, ValueError) as exc:
            # Nothing of this connection runs: a person must mend the key or the document.
            health.problems.append(Problem(
                "config", f"connection {row.id}",
                f"its configuration does not load ({exc}): run `spocc check --connection "
                f"{row.id}`, then fix SPOCC_SECRET_KEY or re-apply the connection"))
            continue
        for name, setting in conn.processes.items():
            if not setting.enabled or name in (row.paused_processes or []):
                continue
            success = last.get((row.id, name))
            # never succeeded: due since it first ran, or since the connection was set up
            since = success or first_run.get((row.id, name)) or first_applied.get(row.id)
            age = ProcessAge(row.id, name, timedelta(minutes=setting.interval_minutes),
                             success, since)
            health.processes.append(age)
            if age.overdue(health.now):
                assert age.since is not None
                what = "last succeeded" if success else "never succeeded, due since"
                health.problems.append(
                    Problem("overdue", f"connection {row.id}",
                            f"{name} {what} {span((health.now - age.since).total_seconds())} "
                            f"ago (every {span(age.interval.total_seconds())})")
                )


def _by_process(session: Session, value: Any, where: Any) -> dict[tuple[str, str], Any]:
    q = select(SyncRun.connection_id, SyncRun.process, value).group_by(
        SyncRun.connection_id, SyncRun.process
    )
    if where is not None:
        q = q.where(where)
    return {(c, p): t for c, p, t in session.execute(q).all() if t is not None}


def _redis(health: Health) -> None:
    try:
        runtime.redis_client().ping()
    except (redis.RedisError, RuntimeError, OSError) as exc:
        health.unreachable["redis"] = _why(exc)
        return
    try:
        health.queues = broker.depths()
    except broker.ERRORS as exc:
        health.unreachable["broker"] = _why(exc)  # RabbitMQ, apart from Redis
        return
    answer = _active_queues() or {}
    health.workers = sorted(answer)
    health.consumers = {q: [] for q in QUEUES}
    for worker, consumed in answer.items():
        for q in consumed or []:
            health.consumers.setdefault(q.get("name", "?"), []).append(worker)
    for q in QUEUES:
        if not health.consumers[q]:
            health.problems.append(
                Problem("queue", f"queue {q}", f"no live worker consumes {q} "
                        f"({health.queues.get(q, 0)} waiting): start `spocc worker -Q {q}`")
            )


def _active_queues() -> dict[str, Any] | None:
    from workers.celery_app import app

    result: dict[str, Any] | None = app.control.inspect(timeout=INSPECT_SECONDS).active_queues()
    return result


def _why(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text_ = str(orig or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text_[0] if text_ else ''}"[:300]


def span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
