"""`spocc exporter`: the one Prometheus scrape target of the connector (`/metrics`)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from cli.services import ensure_broker

log = logging.getLogger("spocc.exporter")
QUEUE_REFRESH = 15.0  # seconds between broadcasts asking which worker consumes what


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9808, show_default=True)
def exporter(host: str, port: int) -> None:
    """Serve /metrics: per-task metrics from Celery events (celery-exporter's names) and the
    connector's state from SQL and Redis (deliveries, processes, budgets, breakers, beat)."""
    ensure_broker()
    from prometheus_client import start_http_server

    from workers import logs, metrics
    from workers.celery_app import app
    from workers.task_events import TaskEvents

    logs.configure()
    registry, _latency = metrics.registry()
    events = TaskEvents(app, registry)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def refresh() -> None:
        while not stop.is_set():
            try:
                events.refresh_queues()
            except Exception as exc:
                log.warning("could not ask workers for their queues: %s", type(exc).__name__)
            stop.wait(QUEUE_REFRESH)

    server, _thread = start_http_server(port, addr=host, registry=registry)
    threading.Thread(target=refresh, name="queues", daemon=True).start()
    threading.Thread(target=events.capture, args=(stop,), name="events", daemon=True).start()
    log.info("exporter serving http://%s:%s/metrics", host, port)
    stop.wait()
    server.shutdown()
