"""Per-task metrics from Celery's events, with celery-exporter's names and labels.

Workers and senders publish task events (`worker_send_task_events`, `task_send_sent_event`)
to the broker; one exporter process consumes them all. That stays right with prefork pools,
recycled children and restarted workers, which per-process counters would not (each child
would count alone and lose its counts when it is replaced). A restart of the exporter starts
the counters again at zero, which Prometheus' `rate()` and `increase()` treat as a reset.

Names as danihodovic/celery-exporter has them: `celery_task_{sent,received,started,succeeded,
failed,rejected,revoked,retried}_total{name,hostname,queue_name}` (`failed` also has
`exception`), the `celery_task_runtime` histogram, `celery_worker_up{hostname}`,
`celery_worker_tasks_active{hostname}`, and per queue `celery_queue_length`,
`celery_active_worker_count` and `celery_active_process_count{queue_name}`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from celery import Celery
from celery.events.state import State
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from workers.settings import QUEUES

log = logging.getLogger("spocc.exporter")

EVENTS = ("sent", "received", "started", "succeeded", "failed", "rejected", "revoked",
          "retried")
LABELS = ("name", "hostname", "queue_name")
# Task runtimes range from a few ms (a no-op tick) to minutes (a 500-variation unit).
RUNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf"))
WORKER_TIMEOUT = 30.0  # seconds without a heartbeat (every 2 s) before a worker is down


def _hostname(value: str | None) -> str:
    # A process that only sends tasks (receiver, beat) is `gen<pid>@host`: one label per pid
    # would grow with every restart, so its sends are counted under `generic@host`.
    if not value:
        return "unknown"
    return re.sub(r"^gen\d+@", "generic@", value)


class TaskEvents:
    """The counters and the runtime histogram, fed by `handle(event)`; the worker and queue
    gauges are computed when scraped (a collector), from the events and the broker."""

    def __init__(self, app: Celery, registry: CollectorRegistry) -> None:
        self.app = app
        self.state = State(max_tasks_in_memory=10_000, max_workers_in_memory=100)
        self.lock = threading.Lock()
        self.counters = {
            event: Counter(f"celery_task_{event}", f"Task events of type task-{event}.",
                           [*LABELS, "exception"] if event == "failed" else list(LABELS),
                           registry=registry)
            for event in EVENTS
        }
        self.runtime = Histogram("celery_task_runtime", "Task runtime in seconds.",
                                 list(LABELS), buckets=RUNTIME_BUCKETS, registry=registry)
        self.last_seen: dict[str, float] = {}
        self.queue_workers: dict[str, tuple[int, int]] = {}
        registry.register(_WorkerCollector(self))

    def queue_of(self, task_name: str | None, given: str | None) -> str:
        if given:
            return given
        task = self.app.tasks.get(task_name or "")
        return str(getattr(task, "queue", None) or "default")

    def handle(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        with self.lock:
            self.state.event(event)
            if kind.startswith("worker-"):
                host = _hostname(event.get("hostname"))
                if kind == "worker-offline":
                    self.last_seen.pop(host, None)
                else:
                    self.last_seen[host] = time.time()
                return
            if not kind.startswith("task-"):
                return
            what = kind.removeprefix("task-")
            counter = self.counters.get(what)
            task = self.state.tasks.get(event.get("uuid"))
            if counter is None or task is None:
                return
            labels = {
                "name": task.name or "unknown",
                "hostname": _hostname(event.get("hostname") or task.hostname),
                "queue_name": self.queue_of(task.name, getattr(task, "queue", None)),
            }
            if what == "failed":
                exception = str(event.get("exception") or task.exception or "")
                counter.labels(**labels, exception=exception.split("(", 1)[0][:100]).inc()
            else:
                counter.labels(**labels).inc()
            if what == "succeeded" and event.get("runtime") is not None:
                self.runtime.labels(**labels).observe(float(event["runtime"]))

    def refresh_queues(self, timeout: float = 1.0) -> None:
        """Which workers consume which queue (a broadcast: run it beside the scrape)."""
        inspect = self.app.control.inspect(timeout=timeout)
        stats = inspect.stats() or {}
        active = inspect.active_queues() or {}
        counts: dict[str, tuple[int, int]] = {q: (0, 0) for q in QUEUES}
        for worker, queues in active.items():
            processes = len((stats.get(worker) or {}).get("pool", {}).get("processes", []))
            for queue in queues:
                workers, procs = counts.get(queue["name"], (0, 0))
                counts[queue["name"]] = (workers + 1, procs + processes)
        with self.lock:
            self.queue_workers = counts

    def capture(self, stop: threading.Event) -> None:
        """Consume events until `stop` (run it in a daemon thread); reconnects, backing off
        to 30 s, when the broker goes away, so a Redis restart costs the events of the gap."""
        delay = 1.0
        while not stop.is_set():
            try:
                with self.app.connection_for_read() as connection:
                    receiver = self.app.events.Receiver(connection, handlers={"*": self.handle})
                    delay = 1.0
                    receiver.capture(limit=None, timeout=None, wakeup=True)
            except Exception as exc:  # the broker went away: come back when it does
                log.warning("event stream lost (%s); reconnecting in %.0fs",
                            type(exc).__name__, delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)


class _WorkerCollector(Collector):
    def __init__(self, events: TaskEvents) -> None:
        self.events = events

    def collect(self) -> Iterable[Any]:
        now = time.time()
        up = GaugeMetricFamily("celery_worker_up", "1 if the worker sent a heartbeat lately.",
                               labels=["hostname"])
        active = GaugeMetricFamily("celery_worker_tasks_active",
                                   "Tasks the worker is processing.", labels=["hostname"])
        workers = GaugeMetricFamily("celery_active_worker_count",
                                    "Workers consuming the queue.", labels=["queue_name"])
        procs = GaugeMetricFamily("celery_active_process_count",
                                  "Worker processes consuming the queue.", labels=["queue_name"])
        with self.events.lock:
            for host, seen in sorted(self.events.last_seen.items()):
                up.add_metric([host], 1.0 if now - seen < WORKER_TIMEOUT else 0.0)
                worker = self.events.state.workers.get(host)
                active.add_metric([host], float(getattr(worker, "active", 0) or 0))
            for queue, (n_workers, n_procs) in sorted(self.events.queue_workers.items()):
                workers.add_metric([queue], float(n_workers))
                procs.add_metric([queue], float(n_procs))
        yield from (up, active, workers, procs)
