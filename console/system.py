"""The system as a whole: database and Redis reachable, beat alive, workers per queue,
queue depths. Every probe is bounded and reports its failure instead of raising, so the
page that shows a broken part still renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from workers import beat_health, broker, runtime
from workers.settings import QUEUES

SILENT_TICKS = 2


@dataclass
class Probe:
    ok: bool
    detail: str


@dataclass
class SystemView:
    database: Probe
    redis: Probe
    queue_depths: dict[str, int | None]
    workers: dict[str, list[str]]  # queue → worker names consuming it
    workers_probe: Probe
    beat_last_tick: datetime | None = None
    beat: Probe = field(default_factory=lambda: Probe(False, "unknown"))

    @property
    def queues_without_consumer(self) -> list[str]:
        return [q for q in QUEUES if not self.workers.get(q)]


def _database() -> Probe:
    try:
        with runtime.db() as session:
            session.execute(text("SELECT 1"))
        return Probe(True, "reachable")
    except SQLAlchemyError as exc:
        return Probe(False, f"unreachable: {type(exc).__name__}")


def _redis() -> tuple[Probe, dict[str, int | None]]:
    try:
        runtime.redis_client().ping()
    except (redis.RedisError, RuntimeError) as exc:
        return Probe(False, f"unreachable: {type(exc).__name__}"), dict.fromkeys(QUEUES)
    try:
        depths: dict[str, int | None] = dict(broker.depths())
    except broker.ERRORS as exc:  # RabbitMQ, apart from Redis
        return Probe(True, f"reachable; broker unreachable: {type(exc).__name__}"), dict.fromkeys(
            QUEUES)
    return Probe(True, "reachable"), depths


def workers_per_queue(timeout: float = 1.0) -> tuple[Probe, dict[str, list[str]]]:
    """Ask every worker which queues it consumes (a broadcast answered within `timeout`)."""
    from workers.celery_app import app

    try:
        answers = app.control.inspect(timeout=timeout).active_queues() or {}
    except (redis.RedisError, OSError) as exc:
        return Probe(False, f"cannot ask the workers: {type(exc).__name__}"), {}
    by_queue: dict[str, list[str]] = {q: [] for q in QUEUES}
    for worker, consumed in answers.items():
        for q in consumed or []:
            by_queue.setdefault(str(q.get("name")), []).append(worker)
    for names in by_queue.values():
        names.sort()
    return Probe(bool(answers), f"{len(answers)} worker(s) answered"), by_queue


def beat(now: datetime | None = None) -> tuple[Probe, datetime | None]:
    """Alive while the leading beat ticked within two of its loops (the issue's "silent for
    more than 2 ticks" is the alarm)."""
    try:
        tick = beat_health.last_tick()
    except SQLAlchemyError as exc:
        return Probe(False, f"unknown: database {type(exc).__name__}"), None
    if tick is None:
        return Probe(False, "silent: no beat has ever ticked (start `spocc beat`)"), None
    silent_for = ((now or datetime.now(UTC)) - tick).total_seconds()
    if silent_for > SILENT_TICKS * beat_health.LOOP_SECONDS:
        return Probe(False, f"silent for {silent_for:.0f} s"), tick
    return Probe(True, f"alive ({beat_health.last_holder()})"), tick


def read() -> SystemView:
    database = _database()
    redis_probe, depths = _redis()
    if redis_probe.ok:
        wprobe, workers = workers_per_queue()
    else:
        wprobe, workers = Probe(False, "Redis unreachable"), {}
    beat_probe, tick = beat() if database.ok else (Probe(False, "unknown: no database"), None)
    return SystemView(database, redis_probe, depths, workers, wprobe, tick, beat_probe)
