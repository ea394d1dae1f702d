"""The connector's own gauges, read fresh from SQL and Redis on every scrape of `spocc exporter`
(the one scrape target; `workers/task_events.py` adds the per-task metrics from Celery events).

SQL and Redis are the shared truth of every process, so a gauge read from them at scrape time
is right however many workers, children and restarts there were. Each part is read on its
own: an unreachable database costs its gauges (and sets `spocc_exporter_source_up` to 0),
not the whole scrape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import config_store
from store.models import Connection, DeadLetter, EventDelivery, SyncRun, utcnow
from store.secrets import SecretKeyError
from workers import beat_health, broker, runtime

log = logging.getLogger("spocc.exporter")

# Accepted → applied: tens of ms unloaded, seconds under a rate-limited sync (README targets).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, float("inf"))


def _aware(when: datetime) -> datetime:
    # SQLite hands DateTime(timezone=True) back naive; every stored time is UTC.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - _aware(then)).total_seconds())


def _gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _broker(now: datetime) -> Iterator[GaugeMetricFamily]:
    length = _gauge("celery_queue_length", "Messages waiting in the broker queue.", "queue_name")
    for queue, depth in broker.depths().items():
        length.add_metric([queue], float(depth))
    yield length
    if not broker.amqp():
        # RabbitMQ counts its unacked messages itself (its rabbitmq_prometheus plugin)
        unacked = _gauge("spocc_unacked_messages",
                         "Messages delivered to a worker, not acked yet.")
        unacked.add_metric([], float(runtime.redis_client().hlen("unacked")))
        yield unacked


def _deliveries(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    """Pending (incl. failed, retrying), held and running order events per connection, with
    the age of the oldest of each: `tasks/orders/health.py`, as `spocc status` counts them."""
    from tasks.orders import health

    counts = _gauge("spocc_event_deliveries_unfinished",
                    "Order events not done yet: pending (incl. retrying), held, running.",
                    "connection", "status")
    oldest = _gauge("spocc_event_deliveries_oldest_age_seconds",
                    "Age of the oldest pending, held or running order event.",
                    "connection", "status")
    for connection, buckets in sorted(health.deliveries(now=now).items()):
        for status, bucket in buckets.items():
            counts.add_metric([connection, status], float(bucket.count))
            if bucket.oldest_seconds is not None:
                oldest.add_metric([connection, status], bucket.oldest_seconds)
    yield from (counts, oldest)


def _dead_letters(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    family = _gauge("spocc_dead_letters_open",
                    "Dead letters waiting for an operator (connection \"\" for none's).",
                    "connection")
    # Every connection, with 0 when it has none: `delta()` then sees the first letter arrive.
    counts = {c: 0 for c in config_store.connection_ids(session)}
    counts[""] = 0
    for connection, n in session.execute(
        select(DeadLetter.connection_id, func.count())
        .where(DeadLetter.status == "open").group_by(DeadLetter.connection_id)
    ).all():
        counts[connection or ""] = n
    for connection, n in sorted(counts.items()):
        family.add_metric([connection], float(n))
    yield family


def _processes(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    """Per connection and scheduled process: its interval, the age of its last success (of
    its oldest run while it never succeeded) and its runs in progress."""
    from tasks.catalogue.runs import last_success  # the one definition of "last success"

    interval = _gauge("spocc_process_interval_seconds",
                      "Interval of each scheduled (enabled, not paused) process.",
                      "connection", "process")
    age = _gauge("spocc_process_last_success_age_seconds",
                 "Seconds since the process last succeeded (since its first run if never).",
                 "connection", "process")
    running = _gauge("spocc_sync_runs_running", "Sync runs in progress.", "connection", "process")
    first = {(c, p): t for c, p, t in session.execute(
        select(SyncRun.connection_id, SyncRun.process, func.min(SyncRun.started_at))
        .group_by(SyncRun.connection_id, SyncRun.process)
    ).all()}
    for c, p, n in session.execute(
        select(SyncRun.connection_id, SyncRun.process, func.count())
        .where(SyncRun.status == "running").group_by(SyncRun.connection_id, SyncRun.process)
    ).all():
        running.add_metric([c, p], float(n))
    for row in session.execute(select(Connection)).scalars():
        if row.paused:
            continue
        try:
            conn = runtime.connection(row.id, session)
        except (config_store.UnknownConnection, SecretKeyError, ValueError):
            continue  # `spocc status` names a configuration that does not load
        for name, setting in conn.processes.items():
            if not setting.enabled or name in (row.paused_processes or []):
                continue
            interval.add_metric([row.id, name], float(setting.interval_minutes * 60))
            # The success `spocc status` shows and a delta starts from: a dry run or a
            # one-variation run does not make an overdue process look fresh.
            done = last_success(session, row.id, name)
            finished = done.finished_at if done is not None else None
            since = _age(now, finished or first.get((row.id, name)))
            if since is not None:
                age.add_metric([row.id, name], since)
    yield from (interval, age, running)


def _beat(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    family = _gauge("spocc_beat_last_tick_age_seconds", "Seconds since beat's last tick.")
    since = _age(now, beat_health.last_tick())
    if since is not None:
        family.add_metric([], since)
    yield family


def _apis(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    """Rate budgets and breakers as every worker sees them (they live in Redis)."""
    import clients

    left = _gauge("spocc_rate_budget_calls_left", "Calls left in the current rate window.",
                  "connection", "api")
    limit = _gauge("spocc_rate_budget_limit", "Calls allowed per rate window.",
                   "connection", "api")
    breaker = _gauge("spocc_breaker_open", "1 while the circuit breaker is open or probing.",
                     "connection", "api")
    redis = runtime.redis_client()
    for conn_id in config_store.connection_ids(session):
        try:
            conn = runtime.connection(conn_id, session)
        except (config_store.UnknownConnection, SecretKeyError, ValueError):
            continue  # `spocc status` names a configuration that does not load
        plenty = clients.build_plentyone(conn, redis)
        spocc = clients.build_spocc(conn, redis)
        try:
            p = plenty.state()
            rows = [("plentyone_reads", p["breaker"], p["reads"]),
                    ("plentyone_writes", p["breaker"], p["writes"])]
            rows += [(f"spocc_{api}", s["breaker"], s["rate"]) for api, s in spocc.state().items()]
        finally:
            plenty.close()
            spocc.close()
        for api, brk, rate in rows:
            breaker.add_metric([conn_id, api], 0.0 if brk["state"] == "closed" else 1.0)
            if "left" in rate:
                left.add_metric([conn_id, api], float(rate["left"]))
            if "limit" in rate:
                limit.add_metric([conn_id, api], float(rate["limit"]))
    yield from (left, limit, breaker)


SQL_PARTS: tuple[Callable[[Session, datetime], Iterator[GaugeMetricFamily]], ...] = (
    _deliveries, _dead_letters, _processes, _beat, _apis)


class StateCollector(Collector):
    def collect(self) -> Iterable[Any]:
        now = utcnow()
        up = _gauge("spocc_exporter_source_up", "1 if the exporter could read the source.",
                    "source")
        source = "broker" if broker.amqp() else "redis"  # RabbitMQ's depths, or Redis's
        try:
            yield from list(_broker(now))
            up.add_metric([source], 1.0)
        except Exception as exc:
            log.warning("metrics: %s unreadable: %s", source, type(exc).__name__)
            up.add_metric([source], 0.0)
        try:
            families: list[GaugeMetricFamily] = []
            with runtime.db() as session:
                for part in SQL_PARTS:
                    families += part(session, now)
            yield from families
            up.add_metric(["database"], 1.0)
        except Exception as exc:
            log.warning("metrics: database unreadable: %s", type(exc).__name__)
            up.add_metric(["database"], 0.0)
        yield up


class Latency:
    """Accepted → applied of each order event, observed once when it is seen done.

    Polled from SQL (`created_at` is the accept, `updated_at` of a done row the apply) rather
    than timed in a worker, so every process's work is counted once, by this one process."""

    OVERLAP = timedelta(seconds=60)  # rows committed late with an earlier updated_at

    def __init__(self) -> None:
        self.histogram = Histogram("spocc_event_accepted_to_applied_seconds",
                                   "Seconds from an order event's accept to its applied outcome.",
                                   ["connection", "event"], buckets=LATENCY_BUCKETS,
                                   registry=None)
        self.since = utcnow()
        self.seen: dict[int, datetime] = {}
        self.lock = threading.Lock()

    def poll(self) -> int:
        with self.lock, runtime.db() as session:
            rows = session.execute(
                select(EventDelivery.id, EventDelivery.connection_id, EventDelivery.event_type,
                       EventDelivery.created_at, EventDelivery.updated_at)
                .where(EventDelivery.status == "done",
                       EventDelivery.updated_at > self.since - self.OVERLAP)
                .order_by(EventDelivery.updated_at).limit(50_000)
            ).all()
            fresh = [r for r in rows if r.id not in self.seen]
            for r in fresh:
                self.histogram.labels(r.connection_id, r.event_type).observe(
                    max(0.0, (_aware(r.updated_at) - _aware(r.created_at)).total_seconds()))
                self.seen[r.id] = _aware(r.updated_at)
            if rows:
                self.since = max(self.since, _aware(rows[-1].updated_at))
            horizon = self.since - 2 * self.OVERLAP
            self.seen = {k: v for k, v in self.seen.items() if v > horizon}
            return len(fresh)


class _LatencyCollector(Collector):
    """Polls before each scrape, so what a scrape shows is never older than the scrape."""

    def __init__(self, latency: Latency) -> None:
        self.latency = latency

    def collect(self) -> Iterable[Any]:
        try:
            self.latency.poll()
        except Exception as exc:
            log.warning("metrics: latency poll failed: %s", type(exc).__name__)
        return []


def registry() -> tuple[CollectorRegistry, Latency]:
    """The exporter's registry with every collector of this module in it."""
    reg = CollectorRegistry(auto_describe=False)
    latency = Latency()
    reg.register(_LatencyCollector(latency))  # before the histogram: poll, then show it
    reg.register(latency.histogram)
    reg.register(StateCollector())
    return reg, latency
