"""Transaction Service API: registration, idempotency, rejections, payment, documents,
returns, cancellation, status poll and lookup, each effect read back from the ledger."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.sandboxes.spocc_fixtures import SpoccServer

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "city": "Berlin", "country": "DE",
           "email": "ada@example.com"}


def _in_stock(spocc: SpoccServer, store: int = 1, count: int = 2) -> list[str]:
    items = spocc.stock("/stock", params={"pageSize": 200}).json()["items"]
    return [
        i["spoccId"] for i in items
        if next(e for e in i["stock"] if e["channelStore"] == store)["available"] >= 3
    ][:count]


def _order(spocc_ids: list[str], plenty_order_id: int = 4711, **extra: Any) -> dict[str, Any]:
    return {
        "plentyOrderId": plenty_order_id,
        "channelStore": 1,
        "referrerId": 1,
        "currency": "EUR",
        "orderDate": "2026-11-23T18:59:00Z",
        "lines": [{"spoccId": s, "quantity": 1, "price": "79.95"} for s in spocc_ids],
        "billingAddress": ADDRESS,
        **extra,
    }


@pytest.fixture
def registered(spocc: SpoccServer) -> dict[str, Any]:
    answer = spocc.tx("POST", "/orders", json=_order(_in_stock(spocc)), idem="reg-4711")
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_register_gives_status_1_and_reserves_every_line(spocc: SpoccServer) -> None:
    ids = _in_stock(spocc)
    before = {s: spocc.stock(f"/stock/{s}").json()["stock"][0] for s in ids}
    answer = spocc.tx("POST", "/orders", json=_order(ids), idem="k-1")
    assert answer.status_code == 201
    order = answer.json()
    assert order["status"] == 1 and order["statusName"] == "registered"
    assert order["spoccOrderId"].startswith("SO") and order["plentyOrderId"] == 4711
    assert order["shippingAddress"] == order["billingAddress"]  # null means "same as billing"
    assert order["reservation"]["released"] is False
    assert {(r["spoccId"], r["quantity"]) for r in order["reservation"]["lines"]} == {
        (s, 1) for s in ids
    }
    for s in ids:
        after = spocc.stock(f"/stock/{s}").json()["stock"][0]
        assert after["reserved"] == before[s]["reserved"] + 1
        assert after["available"] == before[s]["available"] - 1
    (entry,) = spocc.ledger("order.registered")
    assert entry["idempotencyKey"] == "k-1"
    assert entry["data"]["spoccOrderId"] == order["spoccOrderId"]


def test_same_key_same_body_registers_once_and_replays_the_answer(spocc: SpoccServer) -> None:
    body = _order(_in_stock(spocc))
    first = spocc.tx("POST", "/orders", json=body, idem="same")
    second = spocc.tx("POST", "/orders", json=body, idem="same")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(spocc.ledger("order.registered")) == 1
    reserved = spocc.stock(f"/stock/{body['lines'][0]['spoccId']}").json()["stock"][0]
    assert reserved["reserved"] == 1


def test_key_order_and_whitespace_do_not_make_another_request(spocc: SpoccServer) -> None:
    body = _order(_in_stock(spocc))
    spocc.tx("POST", "/orders", json=body, idem="canon")
    reordered = dict(reversed(list(body.items())))
    raw = spocc.tx("POST", "/orders", data=" \n" + json.dumps(reordered, indent=2),
                   idem="canon", headers={"Content-Type": "application/json"})
    assert raw.status_code == 201 and raw.headers["Idempotent-Replayed"] == "true"


def test_same_key_different_body_is_409_without_effect(spocc: SpoccServer) -> None:
    ids = _in_stock(spocc)
    spocc.tx("POST", "/orders", json=_order(ids), idem="dup")
    answer = spocc.tx("POST", "/orders", json=_order(ids, plenty_order_id=4712), idem="dup")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_reused"
    assert len(spocc.ledger("order.registered")) == 1


def test_concurrent_same_key_requests_register_once(spocc: SpoccServer) -> None:
    body = _order(_in_stock(spocc))
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        answer = spocc.tx("POST", "/orders", json=body, idem="race")
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(statuses) == 8
    # Either the replay (201) or "still running" (409 idempotency_key_in_use): never twice.
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert len(spocc.ledger("order.registered")) == 1


def test_missing_idempotency_key_is_400(spocc: SpoccServer) -> None:
    answer = spocc.tx("POST", "/orders", json=_order(_in_stock(spocc)))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "idempotency_key_required"
    assert spocc.ledger() == []


def test_second_registration_of_a_plenty_order_under_a_new_key_is_order_exists(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    answer = spocc.tx("POST", "/orders", json=_order(_in_stock(spocc)), idem="another-key")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "order_exists"
    assert answer.json()["error"]["details"]["spoccOrderId"] == registered["spoccOrderId"]
    assert len(spocc.ledger("order.registered")) == 1


def test_undeliverable_address_is_rejected_as_bad_address(spocc: SpoccServer) -> None:
    shipping = {**ADDRESS, "postalCode": "00000"}
    answer = spocc.tx("POST", "/orders", json=_order(_in_stock(spocc), shippingAddress=shipping),
                      idem="addr")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "bad_address"
    assert error["details"] == {"address": "shippingAddress", "fields": ["postalCode"]}
    missing = {k: v for k, v in ADDRESS.items() if k != "street"}
    answer = spocc.tx("POST", "/orders", json=_order(_in_stock(spocc), billingAddress=missing),
                      idem="addr2")
    assert answer.json()["error"]["code"] == "bad_address"
    assert spocc.ledger() == []


def test_insufficient_stock_is_rejected_and_the_same_key_succeeds_once_stock_is_there(
    spocc: SpoccServer,
) -> None:
    (spocc_id,) = _in_stock(spocc, count=1)
    spocc.admin("POST", "/stock", json={"spoccId": spocc_id, "channelStore": 1, "onHand": 0})
    answer = spocc.tx("POST", "/orders", json=_order([spocc_id]), idem="short")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"] == {
        "channelStore": 1, "lines": [{"spoccId": spocc_id, "requested": 1, "available": 0}],
    }
    assert spocc.ledger() == []
    spocc.admin("POST", "/stock", json={"spoccId": spocc_id, "channelStore": 1, "onHand": 5})
    retry = spocc.tx("POST", "/orders", json=_order([spocc_id]), idem="short")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_quantities_of_one_variation_on_several_lines_are_summed(spocc: SpoccServer) -> None:
    (spocc_id,) = _in_stock(spocc, count=1)
    spocc.admin("POST", "/stock", json={"spoccId": spocc_id, "channelStore": 1, "onHand": 1})
    answer = spocc.tx("POST", "/orders", json=_order([spocc_id, spocc_id]), idem="sum")
    assert answer.json()["error"]["details"]["lines"][0]["requested"] == 2


def test_unknown_variation_store_referrer_and_bad_fields(spocc: SpoccServer) -> None:
    ids = _in_stock(spocc)
    cases = [
        (_order(["99999999001"]), "unknown_variation"),
        (_order(ids, channelStore=42), "unknown_channel_store"),
        (_order(ids, referrerId=999), "unknown_referrer"),
        (_order(["123"]), "validation_error"),
        ({**_order(ids), "lines": []}, "validation_error"),
        ({**_order(ids), "lines": [{"spoccId": ids[0], "quantity": 0, "price": "1"}]},
         "validation_error"),
    ]
    for n, (body, code) in enumerate(cases):
        answer = spocc.tx("POST", "/orders", json=body, idem=f"bad-{n}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, code), body
    fields = spocc.tx("POST", "/orders", json=cases[-1][0], idem="bad-x").json()["error"]
    assert set(fields["details"]["fields"]) == {"lines[0].quantity", "lines[0].price"}
    assert spocc.ledger() == []


def test_payment_then_shipping_documents_move_status_1_2_3(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    paid = spocc.tx("POST", f"/orders/{oid}/payments", idem="pay-1",
                    json={"amount": "159.90", "currency": "EUR", "method": "paypal"})
    assert paid.status_code == 201 and paid.json()["order"]["status"] == 2
    docs = spocc.tx("POST", f"/orders/{oid}/shipping-documents", idem="docs-1",
                    json={"documents": [{"type": "delivery_note", "number": "LS-4711"}]})
    assert docs.status_code == 201 and docs.json()["order"]["status"] == 3
    again = spocc.tx("POST", f"/orders/{oid}/payments", idem="pay-1",
                     json={"amount": "159.90", "currency": "EUR", "method": "paypal"})
    assert again.json() == paid.json()
    kinds = [e["kind"] for e in spocc.ledger()]
    assert kinds == ["order.registered", "order.payment", "order.shipping_documents"]


def test_documents_before_payment_are_not_undone_by_the_payment(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    spocc.tx("POST", f"/orders/{oid}/shipping-documents", idem="d",
             json={"documents": [{"type": "invoice", "number": "RE-1"}]})
    paid = spocc.tx("POST", f"/orders/{oid}/payments", idem="p",
                    json={"amount": "1.00", "method": "cash_on_delivery"})
    assert paid.json()["order"]["status"] == 3


def test_status_poll_sees_shipped_with_tracking_and_carrier(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    polled = spocc.tx("GET", f"/orders/{oid}/status").json()
    assert (polled["status"], polled["trackingNumber"], polled["carrier"]) == (1, None, None)
    spocc.admin("POST", f"/orders/{oid}/status",
                json={"status": 7, "trackingNumber": "00340434161094042557", "carrier": "DHL"})
    polled = spocc.tx("GET", f"/orders/{oid}/status").json()
    assert polled == {**polled, "status": 7, "statusName": "shipped",
                      "trackingNumber": "00340434161094042557", "carrier": "DHL"}
    assert spocc.tx("GET", f"/orders/{oid}").json()["tracking"]["carrier"] == "DHL"


def test_store_cancellation_shows_in_the_poll_and_releases_stock(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    spocc_id = registered["lines"][0]["spoccId"]
    spocc.admin("POST", f"/orders/{oid}/status", json={"status": 9})
    assert spocc.tx("GET", f"/orders/{oid}/status").json()["status"] == 9
    order = spocc.tx("GET", f"/orders/{oid}").json()
    assert order["cancellation"]["by"] == "store" and order["reservation"]["released"] is True
    assert spocc.stock(f"/stock/{spocc_id}").json()["stock"][0]["reserved"] == 0


def test_return_moves_to_18_and_cannot_exceed_the_order(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    line = registered["lines"][0]["spoccId"]
    body = {"plentyReturnOrderId": 4712, "reasonId": 2, "lines": [{"spoccId": line,
                                                                   "quantity": 1}]}
    answer = spocc.tx("POST", f"/orders/{oid}/returns", json=body, idem="ret-1")
    assert answer.status_code == 201
    assert answer.json()["order"]["status"] == 18
    assert answer.json()["order"]["lines"][0]["returnedQuantity"] == 1
    too_much = spocc.tx("POST", f"/orders/{oid}/returns", json=body, idem="ret-2")
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "return_exceeds_order"
    unknown = spocc.tx("POST", f"/orders/{oid}/returns", idem="ret-3",
                       json={**body, "reasonId": 99})
    assert unknown.json()["error"]["code"] == "unknown_return_reason"
    (entry,) = spocc.ledger("order.return")
    assert entry["idempotencyKey"] == "ret-1" and entry["data"]["reasonId"] == 2


def test_two_returns_of_one_order_are_two_effects(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    for n, line in enumerate(registered["lines"]):
        body = {"reasonId": 1, "lines": [{"spoccId": line["spoccId"], "quantity": 1}]}
        assert spocc.tx("POST", f"/orders/{oid}/returns", json=body,
                        idem=f"r{n}").status_code == 201
    assert len(spocc.ledger("order.return")) == 2


def test_cancellation_is_confirmed_and_releases_the_reservation(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    oid = registered["spoccOrderId"]
    spocc_id = registered["lines"][0]["spoccId"]
    answer = spocc.tx("POST", f"/orders/{oid}/cancellation", json={"reason": "customer"},
                      idem="c-1")
    assert answer.status_code == 200
    order = answer.json()
    assert order["status"] == 9 and order["reservation"]["released"] is True
    assert order["cancellation"]["by"] == "retailer"
    assert spocc.stock(f"/stock/{spocc_id}").json()["stock"][0]["reserved"] == 0
    again = spocc.tx("POST", f"/orders/{oid}/cancellation", json={}, idem="c-2")
    assert again.status_code == 200 and again.json()["status"] == 9
    assert len(spocc.ledger("order.cancelled")) == 1
    paid = spocc.tx("POST", f"/orders/{oid}/payments", idem="late-pay",
                    json={"amount": "1.00", "method": "paypal"})
    assert paid.json()["error"]["code"] == "order_cancelled"


@pytest.mark.parametrize("status", [4, 7])
def test_cancellation_is_refused_once_the_store_processes_the_order(
    spocc: SpoccServer, registered: dict[str, Any], status: int
) -> None:
    oid = registered["spoccOrderId"]
    spocc.admin("POST", f"/orders/{oid}/status", json={"status": status})
    answer = spocc.tx("POST", f"/orders/{oid}/cancellation", json={}, idem="c")
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "already_processing", "message": answer.json()["error"]["message"],
        "details": {"status": status},
    }
    assert spocc.tx("GET", f"/orders/{oid}/status").json()["status"] == status
    assert spocc.ledger("order.cancelled") == []


def test_lookup_by_plenty_order_id(spocc: SpoccServer, registered: dict[str, Any]) -> None:
    found = spocc.tx("GET", "/orders", params={"plentyOrderId": 4711}).json()
    assert found["totalCount"] == 1
    assert found["items"][0]["spoccOrderId"] == registered["spoccOrderId"]
    none = spocc.tx("GET", "/orders", params={"plentyOrderId": 1}).json()
    assert none["totalCount"] == 0 and none["items"] == []
    assert spocc.tx("GET", "/orders/SO99999999").status_code == 404


def test_referrers_and_return_reasons_include_no_reason(spocc: SpoccServer) -> None:
    reasons = spocc.tx("GET", "/return-reasons").json()["items"]
    assert {"id": 1, "name": "No reason"} in reasons
    assert spocc.tx("GET", "/referrers").json()["totalCount"] >= 1


def test_concurrent_registrations_never_oversell(spocc: SpoccServer) -> None:
    (spocc_id,) = _in_stock(spocc, count=1)
    spocc.admin("POST", "/stock", json={"spoccId": spocc_id, "channelStore": 1, "onHand": 5})
    statuses: list[int] = []
    lock = threading.Lock()

    def register(n: int) -> None:
        answer = spocc.tx("POST", "/orders", json=_order([spocc_id], plenty_order_id=9000 + n),
                          idem=f"rush-{n}")
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(statuses) == [201] * 5 + [422] * 7
    assert len(spocc.ledger("order.registered")) == 5
    stock = spocc.stock(f"/stock/{spocc_id}").json()["stock"][0]
    assert (stock["onHand"], stock["reserved"], stock["available"]) == (5, 5, 0)


def test_timestamps_with_an_offset_are_taken_as_that_instant(
    spocc: SpoccServer, registered: dict[str, Any]
) -> None:
    updated = registered["updatedAt"]  # e.g. 2026-11-23T19:40:00.123456Z
    moment = datetime.fromisoformat(updated).astimezone(timezone(timedelta(hours=1)))
    same_instant = moment.isoformat()  # +01:00, one hour "later" on the clock face
    hit = spocc.tx("GET", "/orders", params={"changedSince": same_instant}).json()
    assert hit["totalCount"] == 1
    later = (moment + timedelta(microseconds=1)).isoformat()
    assert spocc.tx("GET", "/orders", params={"changedSince": later}).json()["totalCount"] == 0
