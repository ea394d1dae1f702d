"""Call counts per method and route, as WSGI middleware.

Benchmarks and tests read them to prove how often the connector called a system ("a delta
sync of 1 % reads 2 pages, writes 160 variations"), including the calls a fault answered.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sandboxes.common.faults import WSGIApp

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

RouteOf = Callable[[dict[str, Any]], str]


class Stats:
    def __init__(self, route_of: RouteOf, exempt_prefix: str = "/__admin") -> None:
        self._lock = threading.Lock()
        self._route_of = route_of
        self._exempt = exempt_prefix
        self._calls: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, str, str]] = Counter()
        self._faults: Counter[str] = Counter()

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._statuses.clear()
            self._faults.clear()

    def _record(self, method: str, route: str, status: str, fault: str | None) -> None:
        with self._lock:
            self._calls[(method, route)] += 1
            self._statuses[(method, route, status)] += 1
            if fault:
                self._faults[fault] += 1

    def count(self, method: str | None = None, route: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (m, r), n in self._calls.items()
                if (method is None or m == method) and (route is None or r == route)
            )

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            routes = [
                {
                    "method": method,
                    "route": route,
                    "count": n,
                    "statuses": {
                        s: c
                        for (m, r, s), c in sorted(self._statuses.items())
                        if m == method and r == route
                    },
                }
                for (method, route), n in sorted(self._calls.items())
            ]
            reads = sum(n for (m, _), n in self._calls.items() if m in READ_METHODS)
            total = sum(self._calls.values())
            return {
                "total": total,
                "reads": reads,
                "writes": total - reads,
                "routes": routes,
                "faults": dict(self._faults),
            }

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path.startswith(self._exempt):
                return app(environ, start_response)
            method = environ.get("REQUEST_METHOD", "GET").upper()
            route = self._route_of(environ)
            seen: list[str] = []

            def recording_start_response(status: str, headers: Any, *exc: Any) -> Any:
                seen.append(status.split(" ", 1)[0])
                return start_response(status, headers, *exc)

            try:
                result: Iterable[bytes] = app(environ, recording_start_response)
            except ConnectionError:
                self._record(method, route, "dropped", environ.get("sandbox.fault"))
                raise
            self._record(method, route, seen[-1] if seen else "none", environ.get("sandbox.fault"))
            return result

        return middleware
