"""Bodies of the worker processes the multi-process client tests start (spawned, so each is a
fresh interpreter with its own connections, like a Celery worker process)."""

from __future__ import annotations

import time
from typing import Any

import redis as redislib

from clients.breaker import BreakerSettings
from clients.errors import ClientError, TooManySessions
from clients.http import RetryPolicy, Timeouts
from clients.plentyone import PlentyOneClient
from clients.ratelimit import LimiterSettings
from schemas.secret import Secret

REDIS_URL = "redis://127.0.0.1:6379/0"


def make_client(url: str, prefix: str, window: float, writes: int, priority: str,
                user: str, password: str) -> PlentyOneClient:
    return PlentyOneClient(
        url, user, Secret(password), connection_id="c1",
        redis=redislib.Redis.from_url(REDIS_URL), key_prefix=prefix, priority=priority,
        retry=RetryPolicy(attempts=5, backoff=0.05, backoff_max=0.5),
        timeouts=Timeouts(connect=2.0, read=10.0),
        write_limits=LimiterSettings(default_limit=writes, window_seconds=window),
        read_limits=LimiterSettings(default_limit=1000, window_seconds=window),
        breaker=BreakerSettings(threshold=1000),
        acquire_timeout=60.0,
    )


def push_writes(url: str, prefix: str, window: float, writes: int, seconds: float,
                variation_id: int, warehouse_id: int, user: str, password: str,
                start_at: float) -> dict[str, Any]:
    """Stock corrections as fast as the shared limiter lets them go, for `seconds`."""
    client = make_client(url, prefix, window, writes, "catalogue", user, password)
    client.token.get()
    time.sleep(max(0.0, start_at - time.time()))
    done = errors = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            client.correct_stock(warehouse_id, [{"variationId": variation_id,
                                                 "quantity": done % 50, "reasonId": 301}])
            done += 1
        except ClientError:
            errors += 1
    return {"done": done, "errors": errors}


def order_calls(url: str, prefix: str, window: float, writes: int, count: int, pause: float,
                order_id: int, user: str, password: str, start_at: float) -> dict[str, Any]:
    """Order status writes at the "orders" priority; how long each waited for its slot."""
    client = make_client(url, prefix, window, writes, "orders", user, password)
    client.token.get()
    time.sleep(max(0.0, start_at - time.time()))
    waits: list[float] = []
    for i in range(count):
        time.sleep(pause)
        client.update_order(order_id, status_id=5 if i % 2 else 5.1)
        waits.append(client.http.last_rate_wait)
    return {"waits": waits}


def share_token(url: str, prefix: str, seconds: float, user: str, password: str,
                start_at: float) -> dict[str, Any]:
    """Reads for `seconds` on the connection's shared token; counts session-limit refusals."""
    client = make_client(url, prefix, 60.0, 1000, "catalogue", user, password)
    time.sleep(max(0.0, start_at - time.time()))
    calls = refused = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            client.warehouses()
            calls += 1
        except TooManySessions:
            refused += 1
        time.sleep(0.02)
    return {"calls": calls, "too_many_sessions": refused}
