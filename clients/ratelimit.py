"""A rate limiter shared by every worker process of one connection, kept in Redis.

One `RateLimiter` guards one budget (e.g. PlentyONE writes of connection 7). Its state is a
Redis hash changed only by Lua scripts, so a check-and-take is atomic across processes:

- `limit`, `left`, `reset_at` mirror the API's budget for the current window. The API's
  answers feed them (`observe`, from the X-Plenty-* headers): a lower `Calls-Left` than ours
  wins (someone else spent budget, or a call we counted is still in flight), and a
  `Decay` pointing at a later reset than we expected means the API started a new window.
  Between answers the limiter counts for itself, so many workers slow down *before* the
  budget is spent; `margin` calls of each window stay unused for calls still in flight.
- `blocked_until`: after a 429 (or a daily budget nearly spent) every worker waits out the
  same Retry-After instead of each learning it from its own 429.
- Order traffic first: catalogue calls get `catalogue_share` of each window (`cat_used`
  counts them); the rest is the orders' reserve, so an order call arriving at any time finds
  a slot at once. The reserve goes to the catalogue in the window's last stretch, unless an
  order call is waiting (`orders_until`, refreshed by each waiting order call): then the
  catalogue gets no more than its share until the window resets.

The clock is Redis's (`TIME`), the same for every process.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis as redislib

from clients.errors import RateLimitTimeout

ORDERS = "orders"
CATALOGUE = "catalogue"

# Returns {0, now} when a call may go now, else {milliseconds to wait, now}.
_ACQUIRE = """
local key = KEYS[1]
local prio = ARGV[1]
local default_limit = tonumber(ARGV[2])
local default_window = tonumber(ARGV[3])
local margin_ratio = tonumber(ARGV[4])
local margin_min = tonumber(ARGV[5])
local share = tonumber(ARGV[6])
local hold = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local release = tonumber(ARGV[9])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', key, 'limit', 'left', 'reset_at', 'window', 'blocked_until',
                     'cat_used', 'orders_until')
local limit = tonumber(h[1]) or default_limit
local left = tonumber(h[2])
local reset_at = tonumber(h[3]) or 0
-- 'window' is only ever written by observe: a learned length beats the configured one
local window = tonumber(h[4]) or default_window
local blocked = tonumber(h[5]) or 0
local cat_used = tonumber(h[6]) or 0
local orders_until = tonumber(h[7]) or 0
local function order_waits()
  -- an order call that must wait says so: the catalogue yields it the window's reserve
  if prio == 'orders' and orders_until < now + hold then
    redis.call('HSET', key, 'orders_until', now + hold)
  end
end
if blocked > now then
  order_waits()
  return {blocked - now, now}
end
if left == nil or now >= reset_at then
  -- our own rollover: the reset time is a guess until the API's first answer in it
  left = limit
  cat_used = 0
  reset_at = now + window
  redis.call('HSET', key, 'window_start', now, 'guess', 1)
end
local margin = math.max(margin_min, math.ceil(limit * margin_ratio))
if left - margin <= 0 then
  order_waits()
  redis.call('HSET', key, 'left', left, 'reset_at', reset_at, 'cat_used', cat_used,
             'limit', limit)
  redis.call('PEXPIRE', key, ttl)
  return {math.max(1, reset_at - now), now}
end
if prio ~= 'orders' and cat_used >= math.floor(limit * share) then
  -- the rest of the window is the orders' reserve; the catalogue may have it only in the
  -- window's last stretch, and only while no order call is waiting
  local release_at = reset_at - math.floor(window * release)
  if orders_until > now or now < release_at then
    redis.call('HSET', key, 'left', left, 'reset_at', reset_at, 'cat_used', cat_used,
               'limit', limit)
    redis.call('PEXPIRE', key, ttl)
    local until_ms = release_at
    if orders_until > now then until_ms = math.min(reset_at, orders_until) end
    return {math.max(1, until_ms - now), now}
  end
end
left = left - 1
if prio ~= 'orders' then cat_used = cat_used + 1 end
redis.call('HSET', key, 'left', left, 'reset_at', reset_at, 'cat_used', cat_used,
           'limit', limit)
redis.call('PEXPIRE', key, ttl)
return {0, now}
"""

# ARGV: limit, calls_left, decay_s (-1 unknown), slack_ms, long_left (-1), long_decay_s,
#       long_margin, route_left (-1), route_decay_s, margin_ratio, margin_min, ttl,
#       granted_at (Redis ms when the answered call got its slot; -1 unknown)
_OBSERVE = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local calls_left = tonumber(ARGV[2])
local decay = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])
local long_left = tonumber(ARGV[5])
local long_decay = tonumber(ARGV[6])
local long_margin = tonumber(ARGV[7])
local route_left = tonumber(ARGV[8])
local route_decay = tonumber(ARGV[9])
local margin_ratio = tonumber(ARGV[10])
local margin_min = tonumber(ARGV[11])
local ttl = tonumber(ARGV[12])
local granted_at = tonumber(ARGV[13])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', key, 'left', 'reset_at', 'window', 'blocked_until', 'limit',
                     'window_start', 'guess')
local left = tonumber(h[1])
local reset_at = tonumber(h[2]) or 0
local window = tonumber(h[3])
local blocked = tonumber(h[4]) or 0
local old_limit = tonumber(h[5])
local window_start = tonumber(h[6]) or 0
local guess = tonumber(h[7]) or 0
if limit >= 0 and decay >= 0 then
  local new_reset = now + decay * 1000 + slack
  -- the first answer of a window tells its length (decay counts down from it)
  if window == nil or decay * 1000 > window then window = decay * 1000 end
  if left == nil or now >= reset_at or new_reset > reset_at + window / 2 then
    -- the API is in a window we have not counted in yet: its figures are all we know
    left = calls_left
    reset_at = new_reset
    redis.call('HSET', key, 'cat_used', 0, 'window_start', math.max(granted_at, 0), 'guess', 0)
    redis.call('HSET', key, 'limit', limit, 'left', left, 'reset_at', reset_at, 'window', window)
  elseif granted_at >= 0 and granted_at < window_start then
    -- a late answer to a call made before our window began: its figures are stale
  else
    -- the window we count in: what we took from it stays taken under the real limit
    -- (it may have started under the assumed default), and a lower figure wins
    if old_limit ~= nil and old_limit ~= limit then left = limit - (old_limit - left) end
    if calls_left < left then left = calls_left end
    if guess == 1 or new_reset > reset_at then
      -- our guessed reset gives way to the API's; of the API's, the latest wins
      reset_at = new_reset
      redis.call('HSET', key, 'guess', 0)
    end
    redis.call('HSET', key, 'limit', limit, 'left', left, 'reset_at', reset_at, 'window', window)
  end
end
local margin = math.max(margin_min, math.ceil(math.max(limit, 0) * margin_ratio))
if long_left >= 0 and long_left <= long_margin then
  blocked = math.max(blocked, now + long_decay * 1000 + slack)
  redis.call('HSET', key, 'blocked_until', blocked)
end
if route_left >= 0 and route_left <= margin then
  -- one route's own budget is nearly spent: hold this whole budget until it resets rather
  -- than meet the 429
  blocked = math.max(blocked, now + route_decay * 1000 + slack)
  redis.call('HSET', key, 'blocked_until', blocked)
end
redis.call('PEXPIRE', key, ttl)
return 0
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'blocked_until')) or 0
if until_ms > cur then redis.call('HSET', KEYS[1], 'blocked_until', until_ms) end
-- whatever we thought was left, the API says none is until Retry-After is over; then a
-- new window starts (its first answer tells its real figures)
redis.call('HSET', KEYS[1], 'left', 0, 'reset_at', math.max(until_ms, cur))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return math.max(until_ms, cur)
"""


@dataclass(frozen=True)
class LimiterSettings:
    default_limit: int = 40  # until the API's headers tell the real plan: the smallest one
    window_seconds: float = 60.0
    margin_ratio: float = 0.02  # of each window's budget left for calls in flight
    margin_min: int = 2
    long_margin: int = 10  # daily calls kept back
    catalogue_share: float = 0.7
    # The orders' reserve (1 - catalogue_share of each window) goes to the catalogue in the
    # window's last `reserve_release` part when no order call is waiting, so a sync still
    # uses the whole budget while an order arriving at any time finds a slot at once.
    reserve_release: float = 0.15
    reset_slack: float = 0.25  # seconds added to every reset the API announces
    order_hold: float = 2.0  # an order waiting is "still waiting" for this long after asking
    max_sleep_orders: float = 0.25
    max_sleep_catalogue: float = 1.0
    state_ttl: float = 2 * 86_400.0


@dataclass(frozen=True)
class HeaderNames:
    """Where an API announces its budget; empty names are not read."""

    limit: str
    left: str
    decay: str  # seconds until the window resets
    long_left: str = ""
    long_decay: str = ""
    route_left: str = ""
    route_decay: str = ""


PLENTY_HEADERS = HeaderNames(
    limit="X-Plenty-Global-Short-Period-Limit",
    left="X-Plenty-Global-Short-Period-Calls-Left",
    decay="X-Plenty-Global-Short-Period-Decay",
    long_left="X-Plenty-Global-Long-Period-Calls-Left",
    long_decay="X-Plenty-Global-Long-Period-Decay",
    route_left="X-Plenty-Route-Calls-Left",
    route_decay="X-Plenty-Route-Decay",
)
RATELIMIT_HEADERS = HeaderNames(
    limit="X-RateLimit-Limit", left="X-RateLimit-Remaining", decay="X-RateLimit-Reset"
)


def _header(headers: Mapping[str, str], name: str) -> int:
    if not name:
        return -1
    value = headers.get(name)
    if value is None:
        return -1
    try:
        return int(float(value))
    except ValueError:
        return -1


class RateLimiter:
    """One shared budget: `acquire` before each call, `observe` each answer's headers."""

    def __init__(
        self,
        redis: redislib.Redis,
        key: str,
        settings: LimiterSettings | None = None,
        *,
        headers: HeaderNames = PLENTY_HEADERS,
    ) -> None:
        self.redis = redis
        self.key = key
        self.settings = settings or LimiterSettings()
        self.headers = headers
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._block = redis.register_script(_BLOCK)
        self._local = threading.local()
        s = self.settings
        self._acquire_args: dict[str, list[Any]] = {
            prio: [
                prio,
                s.default_limit,
                int(s.window_seconds * 1000),
                s.margin_ratio,
                s.margin_min,
                s.catalogue_share,
                int(s.order_hold * 1000),
                int(s.state_ttl * 1000),
                s.reserve_release,
            ]
            for prio in (ORDERS, CATALOGUE)
        }

    def try_acquire(self, priority: str = CATALOGUE) -> float:
        """Take a slot if there is one: 0.0, else the seconds to wait before asking again."""
        args = self._acquire_args.get(priority) or self._acquire_args[CATALOGUE]
        wait_ms, now_ms = self._acquire(keys=[self.key], args=args)
        if int(wait_ms) == 0:
            # observe() on this thread tells which window the answer belongs to
            self._local.granted_at = int(now_ms)
        return int(wait_ms) / 1000.0

    def acquire(self, priority: str = CATALOGUE, timeout: float | None = None) -> float:
        """Wait for a slot; returns the seconds waited. Raises RateLimitTimeout after `timeout`."""
        started = time.monotonic()
        cap = (
            self.settings.max_sleep_orders
            if priority == ORDERS
            else self.settings.max_sleep_catalogue
        )
        while True:
            wait = self.try_acquire(priority)
            if wait <= 0:
                return time.monotonic() - started
            waited = time.monotonic() - started
            # The wait is the budget's own answer (its reset, a 429's Retry-After, the end
            # of the orders' reserve): when it is further off than the caller will wait,
            # sleeping first would only hold a worker that other work could use.
            if timeout is not None and waited + wait > timeout:
                raise RateLimitTimeout(
                    f"no {priority} slot in rate budget {self.key} within {timeout:.1f}s",
                    retry_after=wait,
                )
            # Jitter so that the workers woken by one reset do not all ask in the same ms.
            time.sleep(min(wait, cap) + random.uniform(0, 0.01))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Feed the budget figures of one answer (e.g. the X-Plenty-* headers)."""
        n = self.headers
        limit = _header(headers, n.limit)
        left = _header(headers, n.left)
        decay = _header(headers, n.decay)
        long_left = _header(headers, n.long_left)
        long_decay = _header(headers, n.long_decay)
        route_left = _header(headers, n.route_left)
        route_decay = _header(headers, n.route_decay)
        if limit < 0 and long_left < 0 and route_left < 0:
            return
        if left < 0 or decay < 0:
            limit = -1
        s = self.settings
        self._observe(
            keys=[self.key],
            args=[
                limit,
                left,
                decay,
                int(s.reset_slack * 1000),
                long_left,
                max(long_decay, 0),
                s.long_margin,
                route_left,
                max(route_decay, 0),
                s.margin_ratio,
                s.margin_min,
                int(s.state_ttl * 1000),
                int(getattr(self._local, "granted_at", -1)),
            ],
        )

    def block_for(self, seconds: float) -> None:
        """Every worker of this budget waits `seconds` (a Retry-After)."""
        ms = max(0, math.ceil(seconds * 1000 + self.settings.reset_slack * 1000))
        self._block(keys=[self.key], args=[ms, int(self.settings.state_ttl * 1000)])

    def state(self) -> dict[str, Any]:
        """The budget as the limiter sees it, for `spocc status`."""
        raw = self.redis.hgetall(self.key)
        data = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        now_ms = time.time() * 1000
        out: dict[str, Any] = {"key": self.key}
        for name in ("limit", "left", "cat_used"):
            if name in data:
                out[name] = int(float(data[name]))
        for name, label in (
            ("reset_at", "resets_in"),
            ("blocked_until", "blocked_for"),
            ("orders_until", "orders_waiting_for"),
        ):
            if name in data:
                out[label] = max(0.0, (float(data[name]) - now_ms) / 1000.0)
        return out

    def reset(self) -> None:
        self.redis.delete(self.key)
