"""Fault injection as WSGI middleware, configured at runtime through the admin endpoint.

The faults are the ones a connector meets in production: 5xx answers, 429 with Retry-After,
slow answers, hangs past the client's timeout, answers with a field missing or of the wrong
type (`corrupt`), and the worst one — the side effect applied, then the connection dropped
before the answer (the client cannot know whether its order was registered). Draws come
from one seeded generator, so a test that sends the same requests in the same order sees the
same faults.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# (status, code, message, details) -> the JSON body of an injected error answer; each sandbox
# answers in its own API's error format.
ErrorBody = Callable[[int, str, str, dict[str, Any]], dict[str, Any]]

FAULT_KINDS = ("error", "rate_limit", "slow", "hang", "drop_after_effect", "corrupt")


class FaultConfigError(ValueError):
    """A fault rule that cannot be applied (unknown kind, rate out of range, bad regex)."""


@dataclass
class FaultRule:
    """One kind of fault, applied to a share of the matching requests.

    `delay` is the wait of `slow` (then answered normally) and of `hang` (then the connection
    is closed without running the request). `times` caps how often the rule fires, so a test
    can say "the next two registrations fail" with `rate: 1, times: 2`.
    """

    kind: str
    rate: float = 1.0
    status: int = 503
    retry_after: int = 1
    delay: float = 0.0
    path: str | None = None
    methods: tuple[str, ...] | None = None
    times: int | None = None
    remove: tuple[str, ...] = ()
    replace: dict[str, Any] | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise FaultConfigError("rate must be between 0 and 1")
        if self.kind == "error" and not 500 <= self.status <= 599:
            raise FaultConfigError("status of an error fault must be 5xx")
        if self.delay < 0 or self.retry_after < 0:
            raise FaultConfigError("delay and retryAfter must not be negative")
        if self.kind == "corrupt" and not (self.remove or self.replace):
            raise FaultConfigError("a corrupt fault needs `remove` paths or `replace` values")
        if self.kind == "hang" and self.delay == 0:
            self.delay = 30.0
        try:
            self._pattern = re.compile(self.path) if self.path else None
        except re.error as exc:
            raise FaultConfigError(f"bad path regex: {exc}") from exc
        if self.methods:
            self.methods = tuple(m.upper() for m in self.methods)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FaultRule:
        if not isinstance(raw, dict):
            raise FaultConfigError("each rule must be an object")
        try:
            methods = raw.get("methods")
            return cls(
                kind=str(raw["kind"]),
                rate=float(raw.get("rate", 1.0)),
                status=int(raw.get("status", 503)),
                retry_after=int(raw.get("retryAfter", 1)),
                delay=float(raw.get("delay", 0.0)),
                path=raw.get("path"),
                methods=tuple(methods) if methods else None,
                times=int(raw["times"]) if raw.get("times") is not None else None,
                remove=tuple(str(p) for p in raw.get("remove") or ()),
                replace=dict(raw["replace"]) if raw.get("replace") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FaultConfigError):
                raise
            raise FaultConfigError(f"bad fault rule: {exc!r}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rate": self.rate,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delay": self.delay,
            "path": self.path,
            "methods": list(self.methods) if self.methods else None,
            "times": self.times,
            "remove": list(self.remove),
            "replace": self.replace,
            "fired": self.fired,
        }

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.methods and method.upper() not in self.methods:
            return False
        return self._pattern is None or self._pattern.search(path) is not None


class _Dropped(ConnectionAbortedError):
    """Raised to werkzeug after the socket was shut: it treats it as a dropped connection."""


class FaultInjector:
    """WSGI middleware: `app.wsgi_app = injector.wrap(app.wsgi_app)`.

    Paths under `exempt_prefix` (the admin surface) are never faulted.
    """

    def __init__(
        self,
        seed: int = 0,
        exempt_prefix: str = "/__admin",
        error_body: ErrorBody | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._error_body = error_body or default_error_body
        self._exempt = exempt_prefix
        self._rules: list[FaultRule] = []
        self._seed = seed
        self._random = random.Random(seed)
        # Set on reset/shutdown so hanging requests let go at once.
        self._release = threading.Event()

    def configure(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self._rules = list(rules)
            if seed is not None:
                self._seed = seed
            self._random = random.Random(self._seed)
            self._release.set()
            self._release = threading.Event()

    def configure_json(self, body: dict[str, Any]) -> None:
        rules = body.get("rules", [])
        if not isinstance(rules, list):
            raise FaultConfigError("rules must be a list")
        seed = body.get("seed")
        self.configure([FaultRule.from_json(r) for r in rules], int(seed) if seed else None)

    def clear(self) -> None:
        self.configure([])

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self._seed, "rules": [r.to_json() for r in self._rules]}

    def _draw(self, method: str, path: str) -> FaultRule | None:
        """The first matching rule whose draw hits; every matching rule draws once."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and self._random.random() < rule.rate:
                    rule.fired += 1
                    return rule
            return None

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path.startswith(self._exempt):
                return app(environ, start_response)
            rule = self._draw(environ.get("REQUEST_METHOD", "GET"), path)
            if rule is None:
                return app(environ, start_response)
            environ["sandbox.fault"] = rule.kind
            return self._apply(rule, app, environ, start_response)

        return middleware

    def _apply(
        self,
        rule: FaultRule,
        app: WSGIApp,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        if rule.kind == "error":
            code = "internal_error" if rule.status == 500 else "unavailable"
            body = self._error_body(rule.status, code, "Injected fault.", {})
            return _json_answer(start_response, rule.status, body)
        if rule.kind == "rate_limit":
            body = self._error_body(
                429,
                "rate_limited",
                f"Rate limit exceeded; retry after {rule.retry_after} s.",
                {"retryAfter": rule.retry_after},
            )
            return _json_answer(
                start_response, 429, body, [("Retry-After", str(rule.retry_after))]
            )
        if rule.kind == "corrupt":
            return _corrupted(rule, app, environ, start_response)
        if rule.kind == "slow":
            self._release.wait(rule.delay)
            return app(environ, start_response)
        if rule.kind == "hang":
            self._release.wait(rule.delay)
            _drop(environ)
        # drop_after_effect: run the request to its end (its side effects happen), throw the
        # answer away, then cut the connection.
        result = app(environ, lambda *a, **k: (lambda data: None))
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        _drop(environ)


def _corrupted(
    rule: FaultRule,
    app: WSGIApp,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> list[bytes]:
    """The app's JSON answer with fields removed or replaced (a client must name the field
    it cannot read). Paths are dotted, list positions are numbers, `*` means every element:
    `items.0.prices.retail`, `items.*.spoccId`. An answer that is not JSON passes unchanged."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if document is not None:
        for path in rule.remove:
            _edit(document, path.split("."), remove=True, value=None)
        for path, value in (rule.replace or {}).items():
            _edit(document, path.split("."), remove=False, value=value)
        body = json.dumps(document).encode()
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _edit(node: Any, steps: list[str], remove: bool, value: Any) -> None:
    if not steps:
        return
    step, rest = steps[0], steps[1:]
    if isinstance(node, list):
        if step == "*":
            targets = list(range(len(node)))
        elif step.lstrip("-").isdigit() and -len(node) <= int(step) < len(node):
            targets = [int(step)]
        else:
            return
        for index in sorted(targets, reverse=True):
            if rest:
                _edit(node[index], rest, remove, value)
            elif remove:
                del node[index]
            else:
                node[index] = value
    elif isinstance(node, dict):
        keys = list(node) if step == "*" else [step]
        for key in keys:
            if rest:
                if key in node:
                    _edit(node[key], rest, remove, value)
            elif remove:
                node.pop(key, None)
            else:
                node[key] = value


def _drop(environ: dict[str, Any]) -> NoReturn:
    """Shut the client's socket without an answer, then tell werkzeug the client is gone."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("dropping a connection needs werkzeug's server (werkzeug.socket)")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    raise _Dropped("connection dropped by fault injection")


def default_error_body(
    status: int, code: str, message: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": details},
        "requestId": f"fault-{time.monotonic_ns():x}",
    }


def _json_answer(
    start_response: Callable[..., Any],
    status: int,
    payload: dict[str, Any],
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers + (extra_headers or []))
    return [body]


_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
