"""A circuit breaker per connection and API, its state in Redis so every worker agrees.

After `threshold` consecutive retryable failures (timeouts, dropped connections, 5xx) the
circuit opens: calls fail at once with `CircuitOpen` for `cooldown` seconds instead of
burning retries and rate budget on a system that is down. Then it is half-open: exactly one
caller (across all processes) gets through as a probe; its success closes the circuit, its
failure opens it for another cool-down. 4xx and 429 are answers from a working server and
do not count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis as redislib

from clients.errors import CircuitOpen

# Returns 0 to let the call through, else milliseconds until it is worth asking again.
_BEFORE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'open_until', 'probe_until')
local open_until = tonumber(h[1]) or 0
if open_until == 0 then return 0 end
if now < open_until then return open_until - now end
local probe_until = tonumber(h[2]) or 0
if probe_until > now then return probe_until - now end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[1]))
return 0
"""

_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until')) or 0
redis.call('HSET', KEYS[1], 'last_error', ARGV[3], 'last_failure_at', now)
if open_until > 0 and now >= open_until then
  -- the half-open probe failed: another cool-down
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[2]), 'probe_until', 0)
  redis.call('HINCRBY', KEYS[1], 'opened', 1)
elseif open_until == 0 and failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[2]), 'probe_until', 0,
             'opened_at', now)
  redis.call('HINCRBY', KEYS[1], 'opened', 1)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return failures
"""

_SUCCESS = """
local h = redis.call('HMGET', KEYS[1], 'failures', 'open_until')
if (tonumber(h[1]) or 0) ~= 0 or (tonumber(h[2]) or 0) ~= 0 then
  redis.call('HSET', KEYS[1], 'failures', 0, 'open_until', 0, 'probe_until', 0)
end
return 0
"""


@dataclass(frozen=True)
class BreakerSettings:
    threshold: int = 5  # consecutive retryable failures that open the circuit
    cooldown: float = 30.0  # seconds open before a probe is let through
    probe_timeout: float = 60.0  # a probe that never reports back frees the slot after this
    state_ttl: float = 7 * 86_400.0


class CircuitBreaker:
    def __init__(
        self, redis: redislib.Redis, key: str, settings: BreakerSettings | None = None
    ) -> None:
        self.redis = redis
        self.key = key
        self.settings = settings or BreakerSettings()
        self._before = redis.register_script(_BEFORE)
        self._failure = redis.register_script(_FAILURE)
        self._success = redis.register_script(_SUCCESS)

    def before_call(self) -> None:
        """Raise CircuitOpen unless the circuit lets this call through."""
        wait_ms = int(self._before(keys=[self.key], args=[int(self.settings.probe_timeout * 1000)]))
        if wait_ms > 0:
            raise CircuitOpen(
                f"circuit {self.key} is open; next try in {wait_ms / 1000:.1f}s",
                retry_after=wait_ms / 1000.0,
            )

    def record_success(self) -> None:
        self._success(keys=[self.key])

    def record_failure(self, reason: str = "") -> None:
        s = self.settings
        self._failure(
            keys=[self.key],
            args=[s.threshold, int(s.cooldown * 1000), reason[:300], int(s.state_ttl * 1000)],
        )

    def state(self) -> dict[str, Any]:
        """`closed`, `open` or `half_open`, with the figures `spocc status` shows."""
        raw = self.redis.hgetall(self.key)
        data = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        now_ms = time.time() * 1000
        open_until = float(data.get("open_until", 0) or 0)
        if open_until == 0:
            state = "closed"
        elif now_ms < open_until:
            state = "open"
        else:
            state = "half_open"
        return {
            "key": self.key,
            "state": state,
            "consecutive_failures": int(data.get("failures", 0) or 0),
            "times_opened": int(data.get("opened", 0) or 0),
            "retry_in": max(0.0, (open_until - now_ms) / 1000.0) if state == "open" else 0.0,
            "last_error": data.get("last_error", ""),
        }

    def reset(self) -> None:
        self.redis.delete(self.key)
