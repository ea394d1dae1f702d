"""Injected faults (sandbox /__admin/faults) -> the right exception and the right retries.

Retried: reads, and writes with an idempotency key; 429s always (nothing was applied).
Not retried: a write without a key whose outcome is unknown (5xx, dropped connection).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from clients.errors import (
    NotFound,
    RateLimited,
    RetryableError,
    ServerError,
    Timeout,
    TransportError,
)
from clients.http import RetryPolicy, Timeouts
from clients.plentyone import PlentyOneClient
from clients.spocc import SpoccClient
from sandboxes.common.server import BackgroundServer
from tests.clients.conftest import Admin

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "city": "Berlin", "country": "DE"}
WAREHOUSES = "/rest/stockmanagement/warehouses"


def test_read_is_retried_through_5xx_until_it_succeeds(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "error", "status": 503, "path": f"^{WAREHOUSES}$", "times": 2})
    assert client.warehouses()
    assert admin.calls("GET", WAREHOUSES) == 3


def test_read_failing_every_attempt_raises_server_error(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "error", "status": 502, "path": f"^{WAREHOUSES}$"})
    with pytest.raises(ServerError) as info:
        client.warehouses()
    assert isinstance(info.value, RetryableError) and info.value.status == 502
    assert admin.calls("GET", WAREHOUSES) == 3  # FAST_RETRY: 3 attempts in all


def test_unkeyed_write_is_not_repeated_after_a_5xx(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "error", "status": 500, "path": "^/rest/tags$", "methods": ["POST"]})
    with pytest.raises(ServerError) as info:
        client.create_tag("never twice")
    assert info.value.outcome_unknown
    assert admin.calls("POST", "/rest/tags") == 1


def test_unkeyed_write_dropped_after_its_effect_is_reported_not_repeated(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "drop_after_effect", "path": "^/rest/tags$", "methods": ["POST"],
                  "times": 1})
    with pytest.raises(TransportError) as info:
        client.create_tag("applied once")
    assert info.value.outcome_unknown
    assert admin.calls("POST", "/rest/tags") == 1
    assert len(admin.ledger("tag.created")) == 1


def test_keyed_write_dropped_after_its_effect_is_retried_and_applied_once(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox()
    client = spocc_client(running.url)
    admin = Admin(running.url)
    spocc_id = next(s["spoccId"] for s in client.stock()
                    if s["stock"][0]["available"] >= 2)
    admin.faults({"kind": "drop_after_effect", "path": "/transaction-service/v1/orders$",
                  "methods": ["POST"], "times": 1})
    order = client.register_order(
        {"plentyOrderId": 9001, "channelStore": 1, "referrerId": 1, "billingAddress": ADDRESS,
         "lines": [{"spoccId": spocc_id, "quantity": 1, "price": "10.00"}]},
        idempotency_key="conn1:order-registered:9001",
    )
    assert order["status"] == 1
    assert admin.calls("POST", "/transaction-service/v1/orders") == 2
    registered = [e for e in admin.ledger() if e["kind"].startswith("order.registered")]
    assert len(registered) == 1
    assert registered[0]["idempotencyKey"] == "conn1:order-registered:9001"


def test_keyed_write_after_5xx_is_retried_with_the_same_key(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox()
    client = spocc_client(running.url)
    admin = Admin(running.url)
    spocc_id = next(s["spoccId"] for s in client.stock() if s["stock"][0]["available"] >= 2)
    order = client.register_order(
        {"plentyOrderId": 9002, "channelStore": 1, "referrerId": 1, "billingAddress": ADDRESS,
         "lines": [{"spoccId": spocc_id, "quantity": 1, "price": "10.00"}]},
        idempotency_key="k-9002",
    )
    admin.faults({"kind": "error", "status": 503, "path": "/payments$", "times": 1})
    paid = client.report_payment(order["spoccOrderId"],
                                 {"amount": "10.00", "currency": "EUR", "method": "invoice"},
                                 idempotency_key="k-9002-paid")
    assert paid["order"]["status"] == 2
    payments = [e for e in admin.ledger() if "payment" in e["kind"]]
    assert [e["idempotencyKey"] for e in payments] == ["k-9002-paid"]


def test_hang_past_the_read_timeout_is_a_timeout_then_retried(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url, timeouts=Timeouts(connect=1.0, read=0.4))
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "hang", "delay": 3, "path": f"^{WAREHOUSES}$", "times": 1})
    started = time.monotonic()
    assert client.warehouses()
    assert 0.4 <= time.monotonic() - started < 3
    admin.faults({"kind": "hang", "delay": 3, "path": f"^{WAREHOUSES}$"})
    one_try = plenty_client(
        server.url,
        timeouts=Timeouts(connect=1.0, read=0.3),
        retry=RetryPolicy(attempts=1, connect_retries=0),
    )
    with pytest.raises(Timeout) as info:
        one_try.warehouses()
    assert info.value.outcome_unknown  # the request was sent; a read timed out


def test_429_waits_retry_after_for_every_worker_and_applies_once(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    other_worker = plenty_client(server.url)  # same connection: same limiter keys
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "rate_limit", "retryAfter": 1, "path": "^/rest/tags$",
                  "methods": ["POST"], "times": 1})
    started = time.monotonic()
    client.create_tag("after the wait")
    assert time.monotonic() - started >= 1.0
    assert admin.calls("POST", "/rest/tags") == 2  # a 429 applied nothing, so repeating is safe
    assert len(admin.ledger("tag.created")) == 1
    # the block is shared: another worker asking now is held too
    admin.faults({"kind": "rate_limit", "retryAfter": 2, "path": "^/rest/tags$", "times": 1})
    client.call("POST", "/rest/tags", json={"tagName": "x"})
    assert other_worker.write_limiter.try_acquire() == 0  # the 2 s have been waited out
    client.write_limiter.block_for(1.5)
    assert other_worker.write_limiter.try_acquire() > 1.0


def test_long_retry_after_goes_back_to_the_caller_as_rate_limited(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url, retry=RetryPolicy(attempts=3, max_retry_after=5))
    admin = Admin(server.url)
    client.token.get()
    admin.faults({"kind": "rate_limit", "retryAfter": 600, "path": f"^{WAREHOUSES}$"})
    with pytest.raises(RateLimited) as info:
        client.warehouses()
    assert info.value.retry_after == 600
    assert admin.calls("GET", WAREHOUSES) == 1
    assert client.read_limiter.state()["blocked_for"] > 590


def test_connection_refused_is_retryable_and_known_not_sent(
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = plenty_client(f"http://127.0.0.1:{port}",
                           retry=RetryPolicy(attempts=1, connect_retries=0))
    with pytest.raises(TransportError) as info:
        client.warehouses()
    assert not info.value.outcome_unknown


def test_4xx_is_permanent_and_not_retried(
    plenty_sandbox: Callable[..., BackgroundServer],
    plenty_client: Callable[..., PlentyOneClient],
) -> None:
    server = plenty_sandbox()
    client = plenty_client(server.url)
    admin = Admin(server.url)
    with pytest.raises(NotFound):
        client.order(424242)
    assert admin.calls("GET", "/rest/orders/<int:order_id>") == 1
