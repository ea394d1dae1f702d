"""The X-Plenty rate-limit headers and 429s, driven by a configurable plan.

Three budgets apply to every /rest call: the daily cap over all calls (long period), the
per-window budget of the call's kind, reads or writes (short period), and the budget of the
route itself. Windows are fixed: they start with the first call after the previous one
ended, and `-Decay` tells how many seconds remain until the budget is whole again.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from sandboxes.plentyone.config import RatePlan

UNLIMITED_SHOWN = 1_000_000  # what the headers advertise when the plan has no limit


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class RateLimiter:
    def __init__(self, plan: RatePlan) -> None:
        self._lock = threading.Lock()
        self.plan = plan
        self._windows: dict[str, _Window] = {}
        self.rejected = 0

    def set_plan(self, plan: RatePlan) -> None:
        with self._lock:
            self.plan = plan
            self._windows.clear()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self.rejected = 0

    def _window(self, key: str, length: float, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.started + length:
            window = self._windows[key] = _Window(started=now)
        return window

    def check(self, kind: str, route: str, consume: bool = True) -> Verdict:
        """Count one call of `kind` ("read"/"write") on `route`, or refuse it."""
        now = time.monotonic()
        with self._lock:
            plan = self.plan
            short_limit = plan.reads_per_window if kind == "read" else plan.writes_per_window
            route_limit = plan.route_limit if plan.route_limit is not None else short_limit
            budgets = [
                ("Global-Long-Period", "day", plan.daily_cap, plan.day_seconds),
                ("Global-Short-Period", f"short:{kind}", short_limit, plan.window_seconds),
                ("Route", f"route:{route}", route_limit, plan.window_seconds),
            ]
            windows = [
                (name, limit, self._window(key, length, now), length)
                for name, key, limit, length in budgets
            ]
            blocked = [
                (window.started + length - now)
                for _name, limit, window, length in windows
                if limit is not None and window.used >= limit
            ]
            allowed = not blocked
            if allowed and consume:
                for _name, _limit, window, _length in windows:
                    window.used += 1
            if not allowed:
                self.rejected += 1
            headers: dict[str, str] = {}
            for name, limit, window, length in windows:
                shown = UNLIMITED_SHOWN if limit is None else limit
                left = max(0, shown - window.used)
                decay = max(0, math.ceil(window.started + length - now))
                headers[f"X-Plenty-{name}-Limit"] = str(shown)
                headers[f"X-Plenty-{name}-Calls-Left"] = str(left)
                headers[f"X-Plenty-{name}-Decay"] = str(decay)
            retry_after = max(1, math.ceil(max(blocked))) if blocked else 0
            return Verdict(allowed=allowed, headers=headers, retry_after=retry_after)
