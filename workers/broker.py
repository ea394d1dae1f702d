"""The broker, chosen by URL: Redis (the embedded default) or RabbitMQ (`amqp://`).

Urgency tiers are message priorities (`workers/queues.py`). Redis keeps one list per priority
step and a worker drains the most urgent first. RabbitMQ's quorum queues have no priorities,
so there each step is a queue of its own (`catalogue`, `catalogue.p3`, `catalogue.p6`,
`catalogue.p9`), declared for every queue and consumed by every worker that consumes the
queue. A worker takes from each of them in turn, at most its prefetch from each: an urgent
message waits behind the few already handed to the worker, never behind a tier's backlog.

Quorum queues are replicated and survive a broker restart; a countdown is kept by RabbitMQ
itself (Celery's native delayed delivery), which needs a topic exchange, hence `spocc`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import redis
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from workers import queues, runtime
from workers.queues import PRIORITY_STEPS
from workers.settings import QUEUES

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
EXCHANGE = "spocc"
# Native delayed delivery prefixes a routing key with 28 bits ("0.1.…"); a retry of such a
# message comes with that key in its delivery info.
_DELAY_BITS = re.compile(r"^(?:[01]\.){28}")
_TIER = re.compile(r"^(?P<base>.+)\.p(?P<step>\d)$")

# What a depth probe raises when the broker cannot be asked.
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OperationalError, OSError,
                                           RuntimeError)


def is_amqp(url: str | None) -> bool:
    return bool(url) and str(url).startswith(AMQP_SCHEMES)


def amqp() -> bool:
    """Whether this process's broker is RabbitMQ."""
    return is_amqp(runtime.settings().broker_url)


def step_of(priority: Any) -> int:
    """The priority step a message of `priority` is served at: kombu's rule, the largest
    step not above it (no priority: 0)."""
    if not isinstance(priority, int) or isinstance(priority, bool):
        return 0
    return max(s for s in PRIORITY_STEPS if s <= max(priority, 0))


def tier_queue(queue: str, step: int) -> str:
    """On RabbitMQ, the queue that holds `queue`'s messages of priority step `step`."""
    return queue if step == 0 else f"{queue}.p{step}"


def tier_queues(queue: str, up_to: int = PRIORITY_STEPS[-1]) -> list[str]:
    """`queue`'s tier queues, from the most urgent to the step of priority `up_to`."""
    return [tier_queue(queue, s) for s in PRIORITY_STEPS if s <= up_to]


def declared(url: str) -> list[Queue]:
    """The queues Celery declares and routes to, for a broker of `url`."""
    if not is_amqp(url):
        return [Queue(q, Exchange(q), routing_key=q) for q in QUEUES]
    exchange = Exchange(EXCHANGE, type="topic", durable=True)
    return [Queue(name, exchange, routing_key=name, durable=True,
                  queue_arguments={"x-queue-type": "quorum"})
            for q in QUEUES for name in tier_queues(q)]


def base_of(name: str) -> str:
    """The queue a tier queue (or a delayed routing key) belongs to: `orders.p3` → `orders`."""
    name = _DELAY_BITS.sub("", name)
    match = _TIER.match(name)
    return match.group("base") if match else name


def tiered(options: dict[str, Any], default_queue: str) -> dict[str, Any]:
    """Send options that route a message to its tier queue on RabbitMQ.

    The queue is the one asked for, else the one a retry's delivery info names (its routing
    key, less any delay prefix), else the task's own; the tier is the message's priority,
    which travels with the message (a retry or a deferral keeps it). A countdown is whole
    seconds, rounded up."""
    options = dict(options)
    asked = options.pop("queue", None)
    key = options.pop("routing_key", None)
    for unused in ("exchange", "exchange_type"):
        options.pop(unused, None)
    name = asked.name if isinstance(asked, Queue) else asked
    if not isinstance(name, str) or not name:
        name = key if isinstance(key, str) and key else default_queue
    base = base_of(name)
    if base not in QUEUES:
        base = default_queue
    options["queue"] = tier_queue(base, step_of(options.get("priority")))
    countdown = options.get("countdown")
    if isinstance(countdown, int | float) and countdown > 0:
        # Delay levels are whole seconds, and kombu refuses one that truncates to 0
        # ("countdown must be a positive number"): round up, never early, never refused.
        options["countdown"] = math.ceil(countdown)
    return options


def consumed_with(selected: Iterable[str]) -> list[str]:
    """The tier queues a worker consumes beside the queues it was started with (`-Q`)."""
    chosen = set(selected)
    return [name for q in QUEUES if q in chosen for name in tier_queues(q) if name != q]


def depth(queue: str, up_to: int = PRIORITY_STEPS[-1]) -> int:
    """Messages waiting in `queue` at priorities served no later than `up_to`. Raises one of
    `ERRORS` when the broker cannot be asked."""
    url = runtime.settings().broker_url
    if not is_amqp(url):
        return queues.depth(runtime.redis_client(), queue, up_to)
    with Connection(url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
        return sum(_message_count(conn, name) for name in tier_queues(queue, up_to))


def depths() -> dict[str, int]:
    return {q: depth(q) for q in QUEUES}


def _message_count(conn: Any, name: str) -> int:
    import amqp.exceptions

    channel = conn.channel()
    try:
        return int(channel.queue_declare(name, passive=True).message_count)
    except amqp.exceptions.NotFound:
        return 0  # no worker has declared it yet: nothing can wait in it
    finally:
        try:
            channel.close()
        except (OSError, amqp.exceptions.AMQPError):
            pass
