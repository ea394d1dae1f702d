"""Checking the sandbox's answers against PlentyONE's official OpenAPI description.

`openapi/plentyone-openapi-v3-subset.json` is a verbatim copy of the description the
project builds against. With `SandboxConfig.contract_check` on, a WSGI middleware checks
every /rest answer the sandbox gives and keeps the violations, readable at
`GET /__admin/contract`, so any test suite driving the sandbox (the client tests, end to
end runs) is a contract test too. The schema validator comes with the dev dependencies
(openapi-core); it is imported only when checking is on.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DESCRIPTION = Path(__file__).parent / "openapi" / "plentyone-openapi-v3-subset.json"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


class ContractChecker:
    """Finds a call's operation and validates an answer body against its declared schema.

    Every answer in the description is declared as `*/*`; bodies are decoded as JSON and
    checked with the OpenAPI 3.0 schema validator. A status the description does not list
    (404, 422, 429, injected 5xx) must still be PlentyONE's error shape `{error: {message}}`.
    """

    def __init__(self, path: Path = DESCRIPTION) -> None:
        self.document: dict[str, Any] = json.loads(path.read_text())
        self.operations: list[Operation] = []
        for template, ops in self.document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            for method, op in ops.items():
                if method != "parameters":
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(regex), op)
                    )
        # Literal segments win over templated ones (/rest/orders/search vs /{orderId}).
        self.operations.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
        self._lock = threading.Lock()
        self.checked: Counter[str] = Counter()
        self.undocumented: Counter[str] = Counter()
        self.violations: list[str] = []

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.pattern.match(path):
                return op
        return None

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema with its `$ref`s inlined (the description's schemas do not nest refs)."""
        ref = schema.get("$ref")
        if ref:
            return self.resolve(self.document["components"]["schemas"][ref.rsplit("/", 1)[-1]])
        out = dict(schema)
        if isinstance(out.get("items"), dict):
            out["items"] = self.resolve(out["items"])
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: self.resolve(v) for k, v in out["properties"].items()}
        return out

    def problem(self, method: str, path: str, status: int, body: bytes,
                unknown_route_ok: bool = False) -> str | None:
        """What is wrong with this answer, or None; counts it either way.

        `unknown_route_ok`: a 404 to a path the description does not have is the right
        answer of a server (the middleware's view), not a violation.
        """
        from openapi_schema_validator import OAS30Validator

        op = self.operation(method, path)
        if op is None:
            if unknown_route_ok and status == 404:
                with self._lock:
                    self.undocumented[f"{method.upper()} (no such route) -> 404"] += 1
                return None
            return f"{method} {path} is not a route of the description"
        key = f"{method.upper()} {op.template} -> {status}"
        declared = op.spec.get("responses", {}).get(str(status))
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            return f"{key}: answer is not JSON"
        if declared is None:
            error = decoded.get("error") if isinstance(decoded, dict) else None
            if not isinstance(error, dict) or "message" not in error:
                return f"{key}: not the error shape {{error: {{message}}}}"
            with self._lock:
                self.undocumented[key] += 1
            return None
        content = declared.get("content") or {}
        media = content.get("*/*") or content.get("application/json")
        if media and "schema" in media:
            validator = OAS30Validator(self.resolve(media["schema"]))
            errors = sorted(validator.iter_errors(decoded), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
                return (f"{key}: {len(errors)} violation(s); first at {where}: "
                        f"{errors[0].message[:300]}")
        with self._lock:
            self.checked[key] += 1
        return None

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"checked": dict(self.checked), "undocumented": dict(self.undocumented),
                    "violations": list(self.violations)}

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """Middleware: check each /rest answer after it is produced, keep the violations."""

        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if not path.startswith("/rest/"):
                return app(environ, start_response)
            seen: list[str] = []

            def recording(status: str, headers: Any, *exc: Any) -> Any:
                seen.append(status)
                return start_response(status, headers, *exc)

            result = app(environ, recording)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            status = int(seen[-1].split(" ", 1)[0]) if seen else 500
            problem = self.problem(environ.get("REQUEST_METHOD", "GET"), path, status, body,
                                   unknown_route_ok=True)
            if problem is not None:
                with self._lock:
                    self.violations.append(problem)
            return [body]

        return middleware
