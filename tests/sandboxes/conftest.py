"""Fixtures for the sandbox tests.

PlentyONE section: every answer the PlentyONE sandbox gives through `plenty_http` is checked
against PlentyONE's official OpenAPI description
(`/work/shared/contracts/plentyone-openapi-v3-subset.json`) by a response hook, so each test
that talks to the sandbox is also a contract test.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

# --- PlentyONE ------------------------------------------------------------------------------

PLENTY_CONTRACT = Path(
    os.environ.get(
        "PLENTYONE_CONTRACT", "/work/shared/contracts/plentyone-openapi-v3-subset.json"
    )
)
# The description's own server; requests are re-addressed to it before openapi-core looks
# them up, so the sandbox's loopback address does not matter.
CONTRACT_SERVER = "https://example.com"


class ContractViolation(AssertionError):
    """An answer (or a request's parameters) that the official description does not allow."""


@dataclass
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


@dataclass
class PlentyContract:
    """Finds the operation of a call and validates its answer against the description.

    The description declares every answer as `*/*`, which openapi-core leaves undecoded, so
    bodies are decoded as JSON here and checked with the OpenAPI 3.0 schema validator;
    query and path parameters go through openapi-core's parameter validator. An answer
    whose status the description does not list (404, 422, 429, injected 5xx) must still be
    PlentyONE's JSON error shape; such statuses are counted in `undocumented`.
    """

    document: dict[str, Any]
    operations: list[_Operation] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    undocumented: Counter[str] = field(default_factory=Counter)
    _openapi: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path = PLENTY_CONTRACT) -> PlentyContract:
        from openapi_core import OpenAPI

        document = json.loads(path.read_text())
        contract = cls(document)
        for template, ops in document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            for method, op in ops.items():
                if method == "parameters":
                    continue
                contract.operations.append(
                    _Operation(method.upper(), template, re.compile(regex), op)
                )
        # Literal segments win over templated ones (/rest/orders/search vs /{orderId}).
        contract.operations.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
        contract._openapi = OpenAPI.from_dict(document)
        return contract

    def operation(self, method: str, path: str) -> _Operation | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return self._schema(self.document["components"]["schemas"][name])
        out = dict(schema)
        if isinstance(out.get("items"), dict):
            out["items"] = self._schema(out["items"])
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: self._schema(v) for k, v in out["properties"].items()}
        return out

    def validate(self, response: requests.Response) -> None:
        from urllib.parse import urlsplit

        from openapi_schema_validator import OAS30Validator

        request = response.request
        path = urlsplit(str(request.url)).path
        method = str(request.method).upper()
        op = self.operation(method, path)
        key = f"{method} {op.template if op else path}"
        if op is None:
            raise ContractViolation(f"{method} {path} is not a route of the description")
        self._check_parameters(response, key)
        declared = op.spec.get("responses", {}).get(str(response.status_code))
        if declared is None:
            self._check_error_shape(response, key)
            with self._lock:
                self.undocumented[f"{key} -> {response.status_code}"] += 1
            return
        content = declared.get("content") or {}
        media = content.get("*/*") or content.get("application/json")
        if media and "schema" in media:
            try:
                body = response.json()
            except ValueError as exc:
                raise ContractViolation(f"{key}: answer is not JSON: {exc}") from exc
            schema = self._schema(media["schema"])
            errors = sorted(OAS30Validator(schema).iter_errors(body), key=lambda e: e.path)
            if errors:
                first = errors[0]
                where = "/".join(str(p) for p in first.absolute_path) or "(root)"
                raise ContractViolation(
                    f"{key} -> {response.status_code}: {len(errors)} violation(s); first at "
                    f"{where}: {first.message[:300]}"
                )
        with self._lock:
            self.checked[f"{key} -> {response.status_code}"] += 1

    def _check_parameters(self, response: requests.Response, key: str) -> None:
        from openapi_core.contrib.requests import RequestsOpenAPIRequest
        from openapi_core.validation.request.validators import V30RequestParametersValidator

        prepared = response.request.copy()
        parts = str(prepared.url).split("/rest/", 1)
        prepared.url = f"{CONTRACT_SERVER}/rest/{parts[1]}" if len(parts) == 2 else prepared.url
        validator = V30RequestParametersValidator(self._openapi.spec)
        try:
            validator.validate(RequestsOpenAPIRequest(prepared))
        except Exception as exc:
            # Security is not a parameter matter: the oAuth2 scheme has no header to check.
            raise ContractViolation(f"{key}: request parameters: {exc}") from exc

    @staticmethod
    def _check_error_shape(response: requests.Response, key: str) -> None:
        try:
            body = response.json()
        except ValueError as exc:
            raise ContractViolation(
                f"{key} -> {response.status_code}: error answer is not JSON"
            ) from exc
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or "message" not in error:
            raise ContractViolation(
                f"{key} -> {response.status_code}: not the error shape {{error: {{message}}}}"
            )


@pytest.fixture(scope="session")
def plenty_contract() -> PlentyContract:
    return PlentyContract.load()


@pytest.fixture
def plenty_http(plenty_contract: PlentyContract) -> Iterator[requests.Session]:
    """A requests session whose every /rest answer is validated against the description."""

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if "/rest/" in str(response.request.url):
            plenty_contract.validate(response)
        return response

    with requests.Session() as session:
        session.hooks["response"].append(check)
        yield session


@dataclass
class PlentyServer:
    """A running PlentyONE sandbox: its URL, its app state, and admin helpers."""

    url: str
    server: Any
    http: requests.Session
    _headers: dict[str, str] | None = None

    @property
    def sandbox(self) -> Any:
        from sandboxes.plentyone import sandbox_of

        return sandbox_of(self.server.app)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.url}/__admin{path}", timeout=10, **kwargs)
        assert answer.status_code < 300, (answer.status_code, answer.text)
        return answer.json()

    def login(self, username: str | None = None, password: str | None = None) -> dict[str, Any]:
        from sandboxes.plentyone import DEMO_PASSWORD, DEMO_USERNAME

        answer = self.http.post(
            f"{self.url}/rest/login",
            json={"username": username or DEMO_USERNAME, "password": password or DEMO_PASSWORD},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def authed(self) -> dict[str, str]:
        """Headers of one login, reused: a fleet shares a token, and so do the tests."""
        if self._headers is None:
            self._headers = {"Authorization": f"Bearer {self.login()['access_token']}"}
        return dict(self._headers)

    def forget_token(self) -> None:
        self._headers = None

    def ledger(self, *kinds: str) -> list[dict[str, Any]]:
        params = [("kind", k) for k in kinds]
        entries: list[dict[str, Any]] = self.admin("GET", "/ledger", params=params)["entries"]
        return entries


PlentyFactory = Callable[..., PlentyServer]


@pytest.fixture
def plenty_factory(plenty_http: requests.Session) -> Iterator[PlentyFactory]:
    """Start PlentyONE sandboxes with any settings (`start_background` keywords)."""
    from sandboxes.plentyone import start_background

    started: list[Any] = []

    def start(**settings: Any) -> PlentyServer:
        server = start_background(**settings)
        started.append(server)
        return PlentyServer(server.url, server, plenty_http)

    yield start
    for server in started:
        server.app.extensions["plentyone_sandbox"].events.shutdown()
        server.shutdown()


@pytest.fixture
def plenty(plenty_factory: PlentyFactory) -> PlentyServer:
    """A fresh sandbox with the seeded lookups, 40 catalogue variations and no rate plan."""
    return plenty_factory(variations=40)


@pytest.fixture(scope="module")
def plenty_catalogue_server() -> Iterator[Any]:
    """One sandbox pre-seeded with the 16,000-variation catalogue, shared by a module."""
    from sandboxes.plentyone import start_background

    server = start_background(variations=16_000, seed=1, max_sessions=1000)
    yield server
    server.shutdown()


@pytest.fixture
def plenty_catalogue(plenty_catalogue_server: Any, plenty_http: requests.Session) -> PlentyServer:
    return PlentyServer(plenty_catalogue_server.url, plenty_catalogue_server, plenty_http)


# --- SPoCC ----------------------------------------------------------------------------------
# The SPoCC fixtures live in their own module; importing them here makes them visible.
from tests.sandboxes.spocc_fixtures import (  # noqa: E402
    spocc,
    spocc_16k,
    spocc_16k_running,
)

__all__ = ["spocc", "spocc_16k", "spocc_16k_running"]
