"""What worker processes of one connection share through Redis: the rate budget, the order
priority, the token (one session), and the circuit breaker. Real processes, real Redis, the
real PlentyONE sandbox counting what arrives."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
import redis as redislib

from clients.breaker import BreakerSettings, CircuitBreaker
from clients.errors import CircuitOpen, RateLimitTimeout, ServerError
from clients.http import RetryPolicy
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE, ORDERS, LimiterSettings, RateLimiter
from sandboxes.common.server import BackgroundServer
from tests.clients import procs
from tests.clients.conftest import Admin

USER, PASSWORD = "spocc-demo", "demo-password"


def _pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))


def _statuses(admin: Admin, route: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in admin.get("/stats")["routes"]:
        if r["route"] == route:
            for status, n in r["statuses"].items():
                out[str(status)] = out.get(str(status), 0) + n
    return out


def test_four_processes_never_exceed_the_shared_write_budget(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
    prefix: str,
) -> None:
    window, writes, seconds = 2.0, 30, 7.0
    server = plenty_sandbox(variations=5, plan={"reads_per_minute": None,
                                                "writes_per_minute": writes,
                                                "daily_cap": None, "window_seconds": window})
    setup = plenty_client(server.url)
    variation = next(iter(setup.variations()))["id"]
    warehouse = setup.warehouses()[0]["id"]
    admin = Admin(server.url)
    start_at = time.time() + 4.0  # all four spawned interpreters are up by then
    with _pool(4) as pool:
        futures = [
            pool.submit(procs.push_writes, server.url, prefix, window, writes, seconds,
                        variation, warehouse, USER, PASSWORD, start_at)
            for _ in range(4)
        ]
        results = [f.result(timeout=60) for f in futures]
    route = "/rest/stockmanagement/warehouses/<int:warehouse_id>/stock/correction"
    statuses = _statuses(admin, route)
    assert statuses.get("429", 0) == 0, statuses
    done = sum(r["done"] for r in results)
    assert sum(r["errors"] for r in results) == 0
    assert done == statuses.get("200", 0)
    # every process got a share, and together they used a good part of the budget
    assert all(r["done"] > 0 for r in results)
    assert done >= 0.5 * writes * (seconds / window)


def test_order_calls_get_a_slot_within_one_window_while_a_sync_saturates_the_budget(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
    prefix: str,
) -> None:
    window, writes = 3.0, 20
    server = plenty_sandbox(variations=5, plan={"reads_per_minute": None,
                                                "writes_per_minute": writes,
                                                "daily_cap": None, "window_seconds": window})
    setup = plenty_client(server.url)
    variation = next(iter(setup.variations()))["id"]
    warehouse = setup.warehouses()[0]["id"]
    admin = Admin(server.url)
    order = admin.post("/orders", {"referrerId": 104.01, "statusId": 5, "warehouseId": 1,
                                   "fireEvents": False,
                                   "lines": [{"variationId": variation, "quantity": 1,
                                              "price": 9.95}]})
    start_at = time.time() + 4.0
    with _pool(3) as pool:
        syncs = [pool.submit(procs.push_writes, server.url, prefix, window, writes, 10.0,
                             variation, warehouse, USER, PASSWORD, start_at) for _ in range(2)]
        orders = pool.submit(procs.order_calls, server.url, prefix, window, writes, 6, 0.8,
                             order["id"], USER, PASSWORD, start_at + 1.0)
        waits = orders.result(timeout=60)["waits"]
        [s.result(timeout=60) for s in syncs]
    assert len(waits) == 6
    assert max(waits) < window, waits
    statuses = _statuses(admin, "/rest/orders/<int:order_id>")
    assert statuses == {"200": 6}


def test_catalogue_gets_at_most_its_share_of_a_window_while_orders_wait(
    redis_conn: redislib.Redis, prefix: str
) -> None:
    settings = LimiterSettings(default_limit=20, window_seconds=30, margin_ratio=0,
                               margin_min=0, catalogue_share=0.7, order_hold=5)
    limiter = RateLimiter(redis_conn, prefix + "rl", settings)
    limiter.block_for(0.05)
    assert limiter.try_acquire(ORDERS) > 0  # an order is waiting now
    time.sleep(0.4)
    catalogue = 0
    while limiter.try_acquire(CATALOGUE) == 0:
        catalogue += 1
    assert catalogue == 14  # 70 % of 20
    orders = 0
    while limiter.try_acquire(ORDERS) == 0:
        orders += 1
    assert orders == 6
    assert limiter.state()["left"] == 0


def test_catalogue_takes_the_orders_reserve_only_at_the_end_of_the_window(
    redis_conn: redislib.Redis, prefix: str
) -> None:
    settings = LimiterSettings(default_limit=20, window_seconds=2, margin_min=2,
                               reserve_release=0.25)
    limiter = RateLimiter(redis_conn, prefix + "rl", settings)
    granted = 0
    while limiter.try_acquire(CATALOGUE) == 0:
        granted += 1
    assert granted == 14  # its 70 %: the rest waits for orders
    wait = limiter.try_acquire(CATALOGUE)
    assert 1.3 < wait <= 1.5  # until the last quarter of the window
    assert limiter.try_acquire(ORDERS) == 0  # an order arriving now goes at once
    time.sleep(wait + 0.02)
    while limiter.try_acquire(CATALOGUE) == 0:
        granted += 1
    assert granted == 17  # then all but the margin and the order's slot
    assert 0 < limiter.try_acquire(CATALOGUE) <= 0.5  # the next window


def test_limiter_follows_the_apis_headers(redis_conn: redislib.Redis, prefix: str) -> None:
    limiter = RateLimiter(redis_conn, prefix + "rl", LimiterSettings(default_limit=40))
    assert limiter.try_acquire() == 0
    # another system spent most of the budget: the API says 5 are left, 20 s to go
    limiter.observe({"X-Plenty-Global-Short-Period-Limit": "120",
                     "X-Plenty-Global-Short-Period-Calls-Left": "5",
                     "X-Plenty-Global-Short-Period-Decay": "20"})
    state = limiter.state()
    assert state["limit"] == 120 and state["left"] == 5
    granted = 0
    while limiter.try_acquire() == 0:
        granted += 1
    assert granted == 2  # 5 left, 3 kept back (2 % of 120, rounded up)
    # the daily budget nearly spent: everyone stops until it resets
    limiter.observe({"X-Plenty-Global-Long-Period-Calls-Left": "3",
                     "X-Plenty-Global-Long-Period-Decay": "3600"})
    assert limiter.try_acquire(ORDERS) > 3500


def test_four_processes_share_one_token_and_one_session(
    plenty_sandbox: Callable[..., BackgroundServer], prefix: str
) -> None:
    server = plenty_sandbox(max_sessions=1, token_ttl=2.0)
    admin = Admin(server.url)
    start_at = time.time() + 4.0
    with _pool(4) as pool:
        futures = [pool.submit(procs.share_token, server.url, prefix, 5.0, USER, PASSWORD,
                               start_at) for _ in range(4)]
        time.sleep(max(0.0, start_at + 2.5 - time.time()))
        admin.post("/tokens/expire")  # every worker's next call is a 401
        results = [f.result(timeout=60) for f in futures]
    sessions = admin.get("/sessions")
    assert sum(r["too_many_sessions"] for r in results) == 0
    assert all(r["calls"] > 0 for r in results)
    assert sessions["logins"] == 1
    assert sessions["rejectedLogins"] == 0
    # ~5 s with a 2 s token and one forced expiry: a handful of refreshes, not one per worker
    # per expiry
    assert 1 <= sessions["refreshes"] <= 5


def test_401_refreshes_once_then_the_call_goes_through(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    assert client.warehouses()
    admin.post("/tokens/expire")
    assert client.warehouses()
    sessions = admin.get("/sessions")
    assert (sessions["logins"], sessions["refreshes"]) == (1, 1)


def test_breaker_opens_for_every_worker_then_a_probe_closes_it(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    options: dict[str, Any] = {"breaker": BreakerSettings(threshold=3, cooldown=1.0),
                               "retry": RetryPolicy(attempts=1, connect_retries=0)}
    client = plenty_client(server.url, **options)
    other_worker = plenty_client(server.url, **options)
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "error", "status": 503, "path": "^/rest/stockmanagement/warehouses$"})
    for _ in range(3):
        with pytest.raises(ServerError):
            client.warehouses()
    assert client.breaker.state()["state"] == "open"
    with pytest.raises(CircuitOpen) as info:
        other_worker.warehouses()
    assert 0 < info.value.retry_after <= 1.0
    assert admin.calls("GET", "/rest/stockmanagement/warehouses") == 3  # nothing more sent
    time.sleep(1.1)
    assert client.breaker.state()["state"] == "half_open"
    with pytest.raises(ServerError):  # the probe fails: open again
        client.warehouses()
    assert client.breaker.state()["state"] == "open"
    admin.clear_faults()
    time.sleep(1.1)
    assert other_worker.warehouses()  # the probe succeeds
    state = client.breaker.state()
    assert state["state"] == "closed" and state["times_opened"] == 2


def test_only_one_probe_goes_through_while_half_open(
    redis_conn: redislib.Redis, prefix: str
) -> None:
    breaker = CircuitBreaker(redis_conn, prefix + "cb",
                             BreakerSettings(threshold=1, cooldown=0.1, probe_timeout=5))
    breaker.record_failure("boom")
    time.sleep(0.15)
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else waits for the probe's outcome
    breaker.record_success()
    breaker.before_call()
    assert breaker.state()["state"] == "closed"


def test_status_reads_breaker_budgets_and_token_without_credentials(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
    redis_conn: redislib.Redis,
    prefix: str,
) -> None:
    from clients.status import connection_state

    server = plenty_sandbox(plan="enterprise")
    client = plenty_client(server.url, connection_id="shop-1")
    client.warehouses()
    state = connection_state(redis_conn, "shop-1", key_prefix=prefix)
    plenty = state["plentyone"]
    assert plenty["breaker"]["state"] == "closed"
    assert plenty["reads"]["limit"] == 280  # learned from the X-Plenty headers
    assert plenty["token"] == "present"
    assert state["spocc-transaction-service"]["breaker"]["state"] == "closed"


def test_a_wait_longer_than_the_timeout_hands_back_at_once(
    redis_conn: redislib.Redis, prefix: str
) -> None:
    """Issue 10: no worker sleeps on a budget that other work could use. When the budget's
    next slot is further off than the caller will wait, `acquire` says so at once, with the
    wait, instead of sleeping out its whole timeout first."""
    settings = LimiterSettings(default_limit=4, window_seconds=30, margin_ratio=0,
                               margin_min=0)
    limiter = RateLimiter(redis_conn, prefix + "rl", settings)
    while limiter.try_acquire(ORDERS) == 0:
        pass
    for priority in (ORDERS, CATALOGUE):
        started = time.monotonic()
        with pytest.raises(RateLimitTimeout) as raised:
            limiter.acquire(priority, timeout=5.0)
        assert time.monotonic() - started < 0.5, priority
        assert 25 < (raised.value.retry_after or 0) <= 30  # the window's reset
    # a wait within the timeout is still slept out, in short steps
    redis_conn.delete(prefix + "rl")
    limiter.block_for(0.3)
    assert 0.2 < limiter.acquire(ORDERS, timeout=5.0) < 1.0
