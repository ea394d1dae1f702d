"""API keys per API, the Retailer ID, and the per-key rate limit (fixed window)."""

from __future__ import annotations

import hmac
import math
import threading
import time
from dataclasses import dataclass, field

from flask import request

from sandboxes.spocc.errors import ApiError

CONTENT_ARTICLE = "content-article"
GLOBAL_STOCK = "global-stock"
TRANSACTION_SERVICE = "transaction-service"
API_NAMES = (CONTENT_ARTICLE, GLOBAL_STOCK, TRANSACTION_SERVICE)

DEMO_RETAILER_ID = "100001"
DEMO_KEYS = {
    CONTENT_ARTICLE: "demo-content-article-key",
    GLOBAL_STOCK: "demo-global-stock-key",
    TRANSACTION_SERVICE: "demo-transaction-service-key",
}


@dataclass(frozen=True)
class Credentials:
    retailer_id: str = DEMO_RETAILER_ID
    keys: dict[str, str] = field(default_factory=lambda: dict(DEMO_KEYS))

    def __post_init__(self) -> None:
        missing = set(API_NAMES) - set(self.keys)
        if missing:
            raise ValueError(f"no key for {sorted(missing)}")


class RateLimiter:
    """Per-API fixed windows; a limit of 0 means unlimited (the sandbox's default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limits: dict[str, int] = {}
        self.window = 60.0
        self._started: dict[str, float] = {}
        self._used: dict[str, int] = {}

    def configure(self, limits: dict[str, int], window: float = 60.0) -> None:
        unknown = set(limits) - set(API_NAMES)
        if unknown:
            raise ValueError(f"unknown APIs {sorted(unknown)}")
        if window <= 0 or any(v < 0 for v in limits.values()):
            raise ValueError("limits must be >= 0 and the window > 0")
        with self._lock:
            self.limits = {k: int(v) for k, v in limits.items() if v}
            self.window = float(window)
            self._started.clear()
            self._used.clear()

    def take(self, api: str) -> dict[str, str]:
        """Count one call; the X-RateLimit headers to send, or ApiError 429 when over."""
        limit = self.limits.get(api, 0)
        if not limit:
            return {}
        with self._lock:
            clock = time.monotonic()
            started = self._started.get(api)
            if started is None or clock - started >= self.window:
                self._started[api], self._used[api] = clock, 0
                started = clock
            reset = max(1, math.ceil(started + self.window - clock))
            if self._used[api] >= limit:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"Rate limit exceeded; retry after {reset} s.",
                    {"retryAfter": reset},
                    headers={
                        "Retry-After": str(reset),
                        "X-RateLimit-Limit": str(limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(reset),
                    },
                )
            self._used[api] += 1
            return {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(limit - self._used[api]),
                "X-RateLimit-Reset": str(reset),
            }

    def to_json(self) -> dict[str, object]:
        return {"limits": dict(self.limits), "windowSeconds": self.window}


def authenticate(api: str, credentials: Credentials, limiter: RateLimiter) -> dict[str, str]:
    """The checks every API call passes, in the order docs/spocc-api.md gives."""
    given = request.headers.get("X-Api-Key", "")
    if not given or not hmac.compare_digest(given.encode(), credentials.keys[api].encode()):
        raise ApiError(401, "unauthorized", f"missing or wrong X-Api-Key for the {api} API")
    retailer = request.headers.get("X-Retailer-Id")
    if not retailer:
        raise ApiError(400, "missing_retailer_id", "the X-Retailer-Id header is required")
    if retailer != credentials.retailer_id:
        raise ApiError(403, "unknown_retailer", "this key is not valid for that retailer",
                       {"retailerId": retailer})
    return limiter.take(api)
