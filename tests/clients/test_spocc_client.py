"""SpoccClient against the SPoCC sandbox over real HTTP: docs/spocc-api.md, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from clients.errors import Conflict, NotFound, Unauthorized, Unprocessable
from clients.spocc import CONTENT, STOCK, TRANSACTION, SpoccClient
from schemas.secret import Secret
from tests.clients.conftest import Admin

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "city": "Berlin", "country": "DE"}


def _order(spocc_id: str, plenty_id: int, quantity: int = 1) -> dict[str, Any]:
    return {"plentyOrderId": plenty_id, "channelStore": 1, "referrerId": 1,
            "lines": [{"spoccId": spocc_id, "quantity": quantity, "price": "79.95"}],
            "billingAddress": ADDRESS, "shippingAddress": None}


def _in_stock(client: SpoccClient) -> str:
    return next(s["spoccId"] for s in client.stock(page_size=200)
                if s["stock"][0]["channelStore"] == 1 and s["stock"][0]["available"] >= 3)


def test_each_api_accepts_its_own_key_and_a_wrong_key_is_unauthorized(
    spocc_catalogue: Any, spocc_client: Callable[..., SpoccClient]
) -> None:
    client = spocc_client(spocc_catalogue.url)
    assert {api: p["api"] for api, p in client.check_credentials().items()} == {
        CONTENT: CONTENT, STOCK: STOCK, TRANSACTION: TRANSACTION
    }
    # the Global Stock key on the Content Article API
    swapped = spocc_client(spocc_catalogue.url, content_key=client._keys[STOCK])
    with pytest.raises(Unauthorized):
        swapped.ping(CONTENT)
    assert "demo" not in repr(Secret("demo-global-stock-key"))


def test_pages_through_16k_stock_and_takes_the_first_server_time_as_cutoff(
    spocc_catalogue: Any, spocc_client: Callable[..., SpoccClient]
) -> None:
    client = spocc_client(spocc_catalogue.url)
    admin = Admin(spocc_catalogue.url)
    admin.clear_stats()
    delta = client.stock()
    ids = [s["spoccId"] for s in delta]
    assert len(ids) == 16_000 == len(set(ids)) and ids == sorted(ids)
    assert delta.cutoff is not None and delta.total == 16_000
    assert admin.calls("GET", "/global-stock/v1/stock") == 16  # 1000 a page, none after
    first = client.stock_of([ids[0]])[0]
    assert isinstance(first["prices"]["retail"], Decimal)
    assert sum(1 for _ in client.variations(page_size=1000)) == 16_000


def test_changed_since_returns_only_what_changed_after_the_cutoff(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox(variations=500)
    client = spocc_client(running.url)
    full = client.stock()
    assert sum(1 for _ in full) == 500
    time.sleep(0.01)  # the mutation must come strictly after the cutoff
    mutated = Admin(running.url).post("/catalogue/mutate", {"percent": 10})
    delta = client.stock(full.cutoff, page_size=20)
    changed = list(delta)
    assert 0 < len(changed) <= 500
    assert len(changed) == mutated["count"]
    assert all(c["changedAt"] >= full.cutoff for c in changed)
    assert list(client.stock(delta.cutoff)) == []


def test_content_lookups_and_single_reads(
    spocc_catalogue: Any, spocc_client: Callable[..., SpoccClient]
) -> None:
    client = spocc_client(spocc_catalogue.url)
    article = next(iter(client.articles(page_size=5)))
    assert client.article(article["articleNumber"])["articleNumber"] == article["articleNumber"]
    spocc_id = article["colours"][0]["variations"][0]["spoccId"]
    assert len(spocc_id) == 11
    assert client.variation(spocc_id)["articleNumber"] == article["articleNumber"]
    assert client.variation_stock(spocc_id)["spoccId"] == spocc_id
    assert list(client.attributes()) and list(client.product_groups())
    assert [s["number"] for s in client.channel_stores()] == [1, 2, 3]
    assert any(r["id"] == 1 for r in client.return_reasons())
    assert list(client.referrers())
    with pytest.raises(NotFound):
        client.variation("99999999999")


def test_order_lifecycle_register_pay_ship_return(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox()
    client = spocc_client(running.url, priority="orders")
    admin = Admin(running.url)
    spocc_id = _in_stock(client)
    order = client.register_order(_order(spocc_id, 4711), idempotency_key="ev-1:register")
    sid = order["spoccOrderId"]
    assert order["status"] == 1 and order["reservation"]["lines"][0]["spoccId"] == spocc_id
    assert client.order_by_plenty_id(4711)["spoccOrderId"] == sid
    assert client.order_by_plenty_id(4712) is None

    paid = client.report_payment(sid, {"amount": "79.95", "currency": "EUR", "method": "paypal"},
                                 idempotency_key="ev-2:paid")
    assert paid["order"]["status"] == 2
    docs = client.report_shipping_documents(
        sid, {"documents": [{"type": "delivery_note", "number": "LS-4711", "url": None}]},
        idempotency_key="ev-3:docs")
    assert docs["order"]["status"] == 3
    admin.post(f"/orders/{sid}/status", {"status": 7, "trackingNumber": "0034", "carrier": "DHL"})
    status = client.order_status(sid)
    assert (status["status"], status["trackingNumber"], status["carrier"]) == (7, "0034", "DHL")
    ret = client.register_return(sid, {"reasonId": 1, "lines": [{"spoccId": spocc_id,
                                                                   "quantity": 1}]},
                                 idempotency_key="ev-4:return")
    assert ret["order"]["status"] == 18
    assert [o["spoccOrderId"] for o in client.orders(statuses=[18])] == [sid]


def test_a_status_read_takes_its_budget_at_the_clients_priority(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    """The status poll's checks read with a catalogue-priority client: their calls count in
    the catalogue's share of the window, so the orders' reserve stays for registrations
    (issue 10: the poll's listing and checks never delay an order event)."""
    running = spocc_sandbox()
    orders = spocc_client(running.url, priority="orders")
    sid = orders.register_order(_order(_in_stock(orders), 4721),
                                idempotency_key="ev-1:register")["spoccOrderId"]
    poll = spocc_client(running.url, priority="catalogue")
    before = poll.limiters[TRANSACTION].state().get("cat_used", 0)
    assert poll.order_status(sid)["status"] == 1
    assert [o["spoccOrderId"] for o in poll.orders(statuses=[1])] == [sid]  # the listing
    assert poll.limiters[TRANSACTION].state()["cat_used"] == before + 2


def test_same_key_replays_and_a_second_key_for_the_same_order_is_a_conflict(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox()
    client = spocc_client(running.url)
    admin = Admin(running.url)
    spocc_id = _in_stock(client)
    first = client.register_order(_order(spocc_id, 5001), idempotency_key="k-5001")
    again = client.register_order(_order(spocc_id, 5001), idempotency_key="k-5001")
    assert again["spoccOrderId"] == first["spoccOrderId"]
    with pytest.raises(Conflict) as info:
        client.register_order(_order(spocc_id, 5001), idempotency_key="other-key")
    assert info.value.code == "order_exists"
    assert info.value.details["spoccOrderId"] == first["spoccOrderId"]
    registered = [e for e in admin.ledger() if e["kind"].startswith("order.registered")]
    assert len(registered) == 1


def test_business_rule_refusals_are_permanent_with_their_code(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox()
    client = spocc_client(running.url)
    spocc_id = _in_stock(client)
    with pytest.raises(Unprocessable) as info:
        client.register_order(_order(spocc_id, 6001, quantity=10_000), idempotency_key="k-6001")
    assert info.value.code == "insufficient_stock"
    order = client.register_order(_order(spocc_id, 6002), idempotency_key="k-6002")
    Admin(running.url).post(f"/orders/{order['spoccOrderId']}/status", {"status": 4})
    with pytest.raises(Unprocessable) as refused:
        client.cancel_order(order["spoccOrderId"], idempotency_key="c-6002")
    assert refused.value.code == "already_processing"


def test_follows_the_x_ratelimit_headers_without_meeting_a_429(
    spocc_sandbox: Callable[..., Any], spocc_client: Callable[..., SpoccClient]
) -> None:
    running = spocc_sandbox(variations=50)
    admin = Admin(running.url)
    admin.post("/rate-limits", {"limits": {STOCK: 20}, "windowSeconds": 2})
    client = spocc_client(running.url)
    spocc_id = next(iter(client.stock()))["spoccId"]
    admin.clear_stats()
    started = time.monotonic()
    for _ in range(30):
        client.variation_stock(spocc_id)
    assert time.monotonic() - started >= 1.0  # it had to wait for the next window
    statuses = next(r["statuses"] for r in admin.get("/stats")["routes"]
                    if r["route"].endswith("/stock/<spocc_id>"))
    assert statuses == {"200": 30}
    assert client.limiters[STOCK].state()["limit"] == 20
