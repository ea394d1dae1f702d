"""Fixtures for the SPoCC sandbox tests (imported by conftest.py).

Tests talk to the sandbox over real HTTP with plain `requests`: never through the connector's
clients, so the sandbox is checked against docs/spocc-api.md and not against itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandboxes.spocc import (
    CONTENT_ARTICLE,
    GLOBAL_STOCK,
    TRANSACTION_SERVICE,
    RunningSpocc,
    start,
)

PREFIXES = {
    CONTENT_ARTICLE: "/content-article/v1",
    GLOBAL_STOCK: "/global-stock/v1",
    TRANSACTION_SERVICE: "/transaction-service/v1",
}
TIMEOUT = 10


@dataclass
class SpoccServer:
    running: RunningSpocc
    http: requests.Session

    @property
    def url(self) -> str:
        return self.running.url

    def headers(self, api: str, **extra: str) -> dict[str, str]:
        creds = self.running.credentials
        return {"X-Api-Key": creds.keys[api], "X-Retailer-Id": creds.retailer_id, **extra}

    def call(
        self, api: str, method: str, path: str, *, idem: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = self.headers(api, **({"Idempotency-Key": idem} if idem else {}))
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", TIMEOUT)
        return self.http.request(
            method, f"{self.url}{PREFIXES[api]}{path}", headers=headers, **kwargs
        )

    def content(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call(CONTENT_ARTICLE, "GET", path, **kwargs)

    def stock(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call(GLOBAL_STOCK, "GET", path, **kwargs)

    def tx(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(TRANSACTION_SERVICE, method, path, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, f"{self.url}/__admin{path}", timeout=TIMEOUT, **kwargs)
        assert answer.status_code < 300, (answer.status_code, answer.text)
        return answer.json()

    def ledger(self, *kinds: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin(
            "GET", "/ledger", params=[("kind", k) for k in kinds]
        )["entries"]
        return entries

    def pages(self, fetch: Any, path: str, page_size: int, **params: Any) -> Iterator[Any]:
        """Every page of a list route, page 1 to `isLastPage`."""
        page = 1
        while True:
            answer = fetch(path, params={**params, "page": page, "pageSize": page_size})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            yield body
            if body["isLastPage"]:
                return
            page += 1


@pytest.fixture
def spocc() -> Iterator[SpoccServer]:
    """A fresh SPoCC sandbox with a small catalogue (600 variations)."""
    with start(variations=600, seed=3) as running, requests.Session() as http:
        yield SpoccServer(running, http)


@pytest.fixture(scope="module")
def spocc_16k_running() -> Iterator[RunningSpocc]:
    with start(variations=16_000, seed=1) as running:
        yield running


@pytest.fixture
def spocc_16k(spocc_16k_running: RunningSpocc) -> Iterator[SpoccServer]:
    """The default 16,000-variation sandbox, shared by a module, reset before each test."""
    with requests.Session() as http:
        server = SpoccServer(spocc_16k_running, http)
        server.admin("POST", "/reset")
        yield server
