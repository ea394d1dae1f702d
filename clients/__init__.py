"""The HTTP clients of the connector's two external APIs, and how to build them for a connection.

    plenty = clients.build_plentyone(conn, redis, priority="orders", call_budget=150)
    spocc = clients.build_spocc(conn, redis)

`call_budget` bounds one call, every retry and rate-limit wait included (a task passes half
its soft time limit); without it the `RetryPolicy` default deadline holds.

Every rate limit, breaker and token is keyed by the connection id, so all workers of one
connection share them, and two connections never do.
"""

from __future__ import annotations

from typing import Any

import redis as redislib

from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE
from clients.retry_policy import RetryPolicy, Timeouts
from clients.spocc import SpoccClient
from schemas.connection import ConnectionConfig
from schemas.secret import Secret


def _secret(value: Secret | None, name: str, conn_id: str) -> Secret:
    if value is None or not value:
        raise ValueError(f"connection {conn_id}: {name} is not set")
    return value


def build_plentyone(
    conn: ConnectionConfig,
    redis: redislib.Redis,
    priority: str = CATALOGUE,
    call_budget: float | None = None,
    **options: Any,
) -> PlentyOneClient:
    """A PlentyONE client for `conn`; `options` go to `PlentyOneClient` (limits, breaker...)."""
    api = conn.plentyone
    options.setdefault("timeouts", Timeouts(read=api.timeout_seconds))
    if call_budget is not None:
        options.setdefault("retry", RetryPolicy.within(call_budget, options["timeouts"]))
    return PlentyOneClient(
        api.base_url,
        api.username,
        _secret(api.password, "plentyone.password", conn.id),
        connection_id=conn.id,
        redis=redis,
        priority=priority,
        **options,
    )


def build_spocc(
    conn: ConnectionConfig,
    redis: redislib.Redis,
    priority: str = CATALOGUE,
    call_budget: float | None = None,
    **options: Any,
) -> SpoccClient:
    """A SPoCC client for `conn`; `options` go to `SpoccClient`."""
    api = conn.spocc
    options.setdefault("timeouts", Timeouts(read=api.timeout_seconds))
    if call_budget is not None:
        options.setdefault("retry", RetryPolicy.within(call_budget, options["timeouts"]))
    return SpoccClient(
        api.base_url,
        retailer_id=api.retailer_id,
        content_key=_secret(api.content_api_key, "spocc.content_api_key", conn.id),
        stock_key=_secret(api.stock_api_key, "spocc.stock_api_key", conn.id),
        transaction_key=_secret(api.transaction_api_key, "spocc.transaction_api_key", conn.id),
        connection_id=conn.id,
        redis=redis,
        priority=priority,
        **options,
    )


__all__ = ["PlentyOneClient", "SpoccClient", "build_plentyone", "build_spocc"]
