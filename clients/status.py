"""What the clients keep in Redis per connection, readable without credentials (`spocc status`).

The key names are decided here once; the clients build theirs with `scope()`.
"""

from __future__ import annotations

from typing import Any

import redis as redislib

from clients.breaker import CircuitBreaker
from clients.ratelimit import RateLimiter

DEFAULT_PREFIX = "spocc:"
PLENTYONE = "plentyone"
SPOCC_APIS = ("content-article", "global-stock", "transaction-service")


def scope(key_prefix: str, connection_id: str, api: str) -> str:
    """The Redis key prefix of one API of one connection, e.g. `spocc:shop-1:plentyone`."""
    return f"{key_prefix}{connection_id}:{api}"


def connection_state(
    redis: redislib.Redis, connection_id: str, key_prefix: str = DEFAULT_PREFIX
) -> dict[str, dict[str, Any]]:
    """Breaker and rate budgets of every API of a connection, as the workers share them.

    `{"plentyone": {"breaker": {...}, "reads": {...}, "writes": {...}},
      "spocc-transaction-service": {"breaker": {...}, "rate": {...}}, ...}`; a budget never
    used yet shows only its key.
    """
    plenty = scope(key_prefix, connection_id, PLENTYONE)
    out: dict[str, dict[str, Any]] = {
        PLENTYONE: {
            "breaker": CircuitBreaker(redis, f"{plenty}:breaker").state(),
            "reads": RateLimiter(redis, f"{plenty}:rl:read").state(),
            "writes": RateLimiter(redis, f"{plenty}:rl:write").state(),
            "token": "present" if redis.exists(f"{plenty}:token") else "none",
        }
    }
    for api in SPOCC_APIS:
        s = scope(key_prefix, connection_id, f"spocc-{api}")
        out[f"spocc-{api}"] = {
            "breaker": CircuitBreaker(redis, f"{s}:breaker").state(),
            "rate": RateLimiter(redis, f"{s}:rl").state(),
        }
    return out
