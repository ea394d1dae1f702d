"""Fixtures for the sandbox tests.

PlentyONE section: every answer the PlentyONE sandbox gives through `plenty_http` is checked
against PlentyONE's official OpenAPI description
(`/work/shared/contracts/plentyone-openapi-v3-subset.json`) by a response hook, so each test
that talks to the sandbox is also a contract test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sandboxes.plentyone.contract import DESCRIPTION, ContractChecker

# --- PlentyONE ------------------------------------------------------------------------------

PLENTY_CONTRACT = Path(
    os.environ.get("PLENTYONE_CONTRACT", str(DESCRIPTION))
)
# The description's own server; requests are re-addressed to it before openapi-core looks
# them up, so the sandbox's loopback address does not matter.
CONTRACT_SERVER = "https://example.com"


class ContractViolation(AssertionError):
    """An answer (or a request's parameters) that the official description does not allow."""


class PlentyContract(ContractChecker):
    """The sandbox's answer checker, plus openapi-core's check of each request's query and
    path parameters, raising on the first violation instead of collecting them."""

    @classmethod
    def load(cls, path: Path = PLENTY_CONTRACT) -> PlentyContract:
        from openapi_core import OpenAPI

        contract = cls(path)
        contract._openapi = OpenAPI.from_dict(contract.document)
        return contract

    def validate(self, response: requests.Response) -> None:
        from urllib.parse import urlsplit

        request = response.request
        path = urlsplit(str(request.url)).path
        method = str(request.method).upper()
        problem = self.problem(method, path, response.status_code, response.content)
        if problem is not None:
            raise ContractViolation(problem)
        self._check_parameters(response, f"{method} {path}")

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
            raise ContractViolation(f"{key}: request parameters: {exc}") from exc


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
    from sandboxes.plentyone import sandbox_of, start_background

    started: list[Any] = []

    def start(**settings: Any) -> PlentyServer:
        server = start_background(**({"contract_check": True} | settings))
        started.append(server)
        return PlentyServer(server.url, server, plenty_http)

    yield start
    violations = []
    for server in started:
        sandbox = sandbox_of(server.app)
        sandbox.events.shutdown()
        server.shutdown()
        if sandbox.contract is not None:
            violations.extend(sandbox.contract.violations)
    # The sandbox checked every answer it gave, whoever asked (raw requests included).
    assert violations == []


@pytest.fixture
def plenty(plenty_factory: PlentyFactory) -> PlentyServer:
    """A fresh sandbox with the seeded lookups, 40 catalogue variations and no rate plan."""
    return plenty_factory(variations=40)


@pytest.fixture(scope="module")
def plenty_catalogue_server() -> Iterator[Any]:
    """One sandbox pre-seeded with the 16,000-variation catalogue, shared by a module."""
    from sandboxes.plentyone import sandbox_of, start_background

    server = start_background(variations=16_000, seed=1, max_sessions=1000,
                              contract_check=True)
    yield server
    server.shutdown()
    checker = sandbox_of(server.app).contract
    assert checker is not None and checker.violations == []


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
