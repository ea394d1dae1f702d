"""Fixtures: the real sandboxes over HTTP, the machine's Redis with a key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as redislib
import requests

from clients.breaker import BreakerSettings
from clients.http import RetryPolicy, Timeouts
from clients.plentyone import PlentyOneClient
from sandboxes.common.server import BackgroundServer
from schemas.secret import Secret

REDIS_URL = "redis://127.0.0.1:6379/0"
FAST_RETRY = RetryPolicy(attempts=3, connect_retries=1, backoff=0.02, backoff_max=0.1)


@pytest.fixture(scope="session")
def redis_conn() -> redislib.Redis:
    conn = redislib.Redis.from_url(REDIS_URL)
    conn.ping()
    return conn


@pytest.fixture
def prefix(redis_conn: redislib.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    p = f"test:clients:{uuid.uuid4().hex[:12]}:"
    yield p
    keys = list(redis_conn.scan_iter(match=p + "*", count=1000))
    if keys:
        redis_conn.delete(*keys)


class Admin:
    """The sandbox admin surface (`/__admin/...`), through plain requests."""

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path: str, body: Any = None) -> Any:
        resp = requests.post(f"{self.url}/__admin{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def get(self, path: str, **params: Any) -> Any:
        resp = requests.get(f"{self.url}/__admin{path}", params=params, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def faults(self, *rules: dict[str, Any], seed: int = 1) -> None:
        self.post("/faults", {"seed": seed, "rules": list(rules)})

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/__admin/faults", timeout=10).raise_for_status()

    def ledger(self, *kinds: str) -> list[dict[str, Any]]:
        return list(self.get("/ledger", kind=list(kinds))["entries"])

    def calls(self, method: str, route: str) -> int:
        stats = self.get("/stats")
        return sum(
            r["count"] for r in stats["routes"] if r["method"] == method and r["route"] == route
        )

    def clear_stats(self) -> None:
        requests.delete(f"{self.url}/__admin/stats", timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def plenty_catalogue() -> Iterator[BackgroundServer]:
    """A PlentyONE sandbox holding the 16k demo catalogue, shared by read-only tests."""
    from sandboxes.plentyone import start_background

    server = start_background(variations=16_000, seed=7, plan="off")
    yield server
    server.shutdown()


@pytest.fixture
def plenty_sandbox() -> Iterator[Callable[..., BackgroundServer]]:
    """Start a fresh PlentyONE sandbox with settings of the test's choosing."""
    from sandboxes.plentyone import start_background

    started: list[BackgroundServer] = []

    def start(**settings: Any) -> BackgroundServer:
        settings.setdefault("variations", 200)
        settings.setdefault("plan", "off")
        server = start_background(**settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()


@pytest.fixture
def plenty_client(
    redis_conn: redislib.Redis, prefix: str
) -> Iterator[Callable[..., PlentyOneClient]]:
    made: list[PlentyOneClient] = []

    def make(url: str, **options: Any) -> PlentyOneClient:
        from sandboxes.plentyone import DEMO_PASSWORD, DEMO_USERNAME

        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeouts", Timeouts(connect=2.0, read=5.0))
        options.setdefault("breaker", BreakerSettings(threshold=50, cooldown=1.0))
        client = PlentyOneClient(
            url,
            options.pop("username", DEMO_USERNAME),
            options.pop("password", Secret(DEMO_PASSWORD)),
            connection_id=options.pop("connection_id", "c1"),
            redis=redis_conn,
            key_prefix=prefix,
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def spocc_catalogue() -> Iterator[Any]:
    """A SPoCC sandbox with the 16k demo catalogue, shared by read-only tests."""
    from sandboxes.spocc import start

    running = start(variations=16_000, seed=3)
    yield running
    running.stop()


@pytest.fixture
def spocc_sandbox() -> Iterator[Callable[..., Any]]:
    from sandboxes.spocc import start

    started: list[Any] = []

    def make(**settings: Any) -> Any:
        settings.setdefault("variations", 200)
        running = start(**settings)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def spocc_client(redis_conn: redislib.Redis, prefix: str) -> Iterator[Callable[..., Any]]:
    from clients.spocc import SpoccClient
    from sandboxes.spocc import (
        CONTENT_ARTICLE,
        DEMO_KEYS,
        DEMO_RETAILER_ID,
        GLOBAL_STOCK,
        TRANSACTION_SERVICE,
    )

    made: list[SpoccClient] = []

    def make(url: str, **options: Any) -> SpoccClient:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeouts", Timeouts(connect=2.0, read=5.0))
        options.setdefault("breaker", BreakerSettings(threshold=50, cooldown=1.0))
        client = SpoccClient(
            url,
            retailer_id=options.pop("retailer_id", DEMO_RETAILER_ID),
            content_key=options.pop("content_key", Secret(DEMO_KEYS[CONTENT_ARTICLE])),
            stock_key=options.pop("stock_key", Secret(DEMO_KEYS[GLOBAL_STOCK])),
            transaction_key=options.pop(
                "transaction_key", Secret(DEMO_KEYS[TRANSACTION_SERVICE])
            ),
            connection_id=options.pop("connection_id", "c1"),
            redis=redis_conn,
            key_prefix=prefix,
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
