"""The Celery application: every delivery setting from ../shared/spec/reliability.md is here.

Run with `spocc worker` (or `celery -A workers.celery_app worker`).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

import beat_schedule
from workers import beat_health, broker, logs
from workers.queues import PRIORITY_STEPS, SEP
from workers.runtime import settings
from workers.settings import Settings

# Each task's queue, as its definition states it (workers.task_base.spocc_task).
TASK_QUEUES: dict[str, str] = {}


def route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    queue = TASK_QUEUES.get(name)
    return {"queue": queue} if queue else None


# Each package imports its task modules in its __init__.
TASK_MODULES = [
    "tasks.maintenance",
    "tasks.orders",
    "tasks.catalogue",
]


class SpoccCelery(Celery):
    """On RabbitMQ, every message goes to its tier queue (`workers/broker.py`): sent, retried
    and deferred alike, for all of them pass through `send_task`."""

    def send_task(self, name: str, *args: Any, **options: Any) -> Any:
        if broker.is_amqp(self.conf.broker_url):
            options = broker.tiered(options, TASK_QUEUES.get(name, "default"))
        return super().send_task(name, *args, **options)


def _redis_transport(s: Settings) -> dict[str, Any]:
    return {
        # Redis hands an unacked message to another worker after this: above the hard time
        # limit, so a running late-ack task is never duplicated.
        "visibility_timeout": s.visibility_timeout,
        "unacked_restore_interval": s.unacked_restore_interval,
        "unacked_restore_throttle": 1 if s.unacked_restore_interval < 10 else 10,
        # urgency tiers within a queue (tasks/catalogue/registry.TIERS; workers/queues.py)
        "priority_steps": list(PRIORITY_STEPS),
        "sep": SEP,
    }


def _amqp_transport() -> dict[str, Any]:
    # A publish returns once RabbitMQ has taken the message: an order event the receiver
    # answered 2xx for is on disk (with the row in SQL, the sweeper's second copy).
    return {"confirm_publish": True}


def _configure(app: Celery, s: Settings) -> None:
    url = s.broker_url or f"redis+socket://{s.embedded_redis_socket}"
    redis_url = s.redis_url or f"unix://{s.embedded_redis_socket}"
    on_amqp = broker.is_amqp(url)
    if on_amqp and s.redis_url is None:
        raise RuntimeError("SPOCC_BROKER_URL is RabbitMQ: set SPOCC_REDIS_URL too (beat's "
                           "schedule, the rate budgets and the tokens live in Redis)")
    transport = _amqp_transport() if on_amqp else _redis_transport(s)
    app.conf.update(
        broker_url=url,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # Results are ignored; Redis holds the few a caller waits for, on either broker.
        result_backend=_result_url(redis_url) if on_amqp else url,
        result_backend_transport_options={} if on_amqp else transport,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        enable_utc=True,
        timezone="UTC",
        # At-least-once: ack after the task ran; a killed worker's message is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_soft_time_limit=s.task_soft_time_limit,
        task_time_limit=s.task_time_limit,
        worker_max_tasks_per_child=s.max_tasks_per_child,
        worker_max_memory_per_child=s.max_memory_per_child_kb,
        task_default_queue="default",
        task_queues=broker.declared(url),
        task_create_missing_queues=False,
        task_routes=(route,),
        # Flower sees tasks from the moment they are sent.
        worker_send_task_events=True,
        task_send_sent_event=True,
        # Beat: RedBeat keeps the schedule in Redis and holds a lock, so a second beat idles.
        # (workers/beat_scheduler.py: it takes the lock again after a Redis restart.)
        beat_scheduler="workers.beat_scheduler:SpoccScheduler",
        redbeat_redis_url=redis_url,
        redbeat_key_prefix="spocc:redbeat:",
        redbeat_lock_timeout=beat_health.LOCK_SECONDS,
        beat_max_loop_interval=beat_health.LOOP_SECONDS,
    )


def _result_url(redis_url: str) -> str:
    # redis-py's spelling of a socket (`unix://`) is not Celery's (`redis+socket://`)
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


@signals.celeryd_after_setup.connect
def _consume_tiers(sender: Any, instance: Any, **kw: Any) -> None:
    """`-Q catalogue` on RabbitMQ consumes catalogue's tier queues too. Every queue is
    declared first, consumed here or not: Celery binds them all to its delayed-delivery
    exchange as the worker starts, and a countdown message whose queue is not bound there
    is dropped at the end of its delay."""
    app = instance.app
    if not broker.is_amqp(app.conf.broker_url):
        return
    queues = app.amqp.queues
    with app.connection_for_write() as conn:
        for queue in queues.values():
            queue(conn.default_channel).declare()
    for name in broker.consumed_with(queues.consume_from):
        queues.select_add(queues[name])  # the declared quorum queue, not a new classic one


def create_app() -> Celery:
    app = SpoccCelery("spocc")
    _configure(app, settings())
    extra = [m for m in os.environ.get("SPOCC_EXTRA_TASK_MODULES", "").split(",") if m]
    app.conf.include = TASK_MODULES + extra
    app.conf.beat_schedule = beat_schedule.build(orders_sweep=settings().orders.sweep)
    return app


app = create_app()
logs.connect_celery()


def reconfigure() -> None:
    """Re-read the settings into the existing app (tests change the environment)."""
    before = app.conf.broker_url
    _configure(app, settings())
    if app.conf.broker_url != before:
        # Another broker: its queues and routes, and connections from kombu's pools of it
        # (kept there, per broker, for a switch back).
        app._pool = None
        app.__dict__.pop("amqp", None)
