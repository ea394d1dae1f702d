"""Event procedures of the PlentyONE sandbox reaching a real HTTP receiver: the Open URL
action with [OrderID], shared-secret auth, Standard Webhooks signing, retries, duplicates."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from werkzeug.wrappers import Request, Response

from sandboxes.common.server import BackgroundServer
from tests.sandboxes.conftest import PlentyServer

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@dataclass
class Receiver:
    """A small webhook receiver: records every call; fails the first `fail_first` calls."""

    fail_first: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        with self.lock:
            self.calls.append({"method": request.method, "path": request.path,
                               "args": dict(request.args), "headers": dict(request.headers),
                               "body": request.get_data()})
            failing = len(self.calls) <= self.fail_first
        response = Response("nope" if failing else "ok", status=503 if failing else 200)
        return response(environ, start_response)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.02)
        with self.lock:
            return list(self.calls)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    with BackgroundServer(target) as server:
        target.url = server.url
        yield target


def _wait_idle(plenty: PlentyServer, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state: dict[str, Any] = plenty.admin("GET", "/events/deliveries")
        if state["pending"] == 0 and all(d["done"] for d in state["deliveries"]):
            return state
        time.sleep(0.02)
    raise AssertionError("event deliveries still pending")


def _new_order(plenty: PlentyServer, **spec: Any) -> dict[str, Any]:
    order: dict[str, Any] = plenty.admin("POST", "/orders", json={
        "referrerId": 104.01, "statusId": 5,
        "lines": [{"number": plenty.sandbox.store.variations[1000]["number"], "quantity": 1,
                   "price": 10}]} | spec)
    return order


def test_new_order_calls_the_url_with_order_id_and_bearer_token(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_order", "url": f"{receiver.url}/webhooks/plentyone/orders/[OrderID]",
        "auth": {"bearer": "s3cret"}, "referrerIds": [104.01]})
    order = _new_order(plenty)
    _new_order(plenty, referrerId=4)  # filtered out: another referrer
    _wait_idle(plenty)
    calls = receiver.wait_for(1)
    assert len(calls) == 1
    assert calls[0]["path"] == f"/webhooks/plentyone/orders/{order['id']}"
    assert calls[0]["headers"]["Authorization"] == "Bearer s3cret"
    assert b'"orderId": %d' % order["id"] in calls[0]["body"]
    assert "Webhook-Signature" not in calls[0]["headers"]


def test_failed_calls_are_retried_with_backoff(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    receiver.fail_first = 2
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_order", "url": f"{receiver.url}/hook?order=[OrderID]",
        "auth": {"queryToken": "tok"}, "retries": 3, "backoff": 0.05})
    order = _new_order(plenty)
    state = _wait_idle(plenty)
    calls = receiver.wait_for(3)
    assert len(calls) == 3
    assert all(c["args"] == {"order": str(order["id"]), "token": "tok"} for c in calls)
    (delivery,) = state["deliveries"]
    assert [a.get("status") for a in delivery["attempts"]] == [503, 503, 200]
    assert delivery["delivered"] is True
    gaps = [b["at"] - a["at"] for a, b in zip(delivery["attempts"], delivery["attempts"][1:],
                                             strict=False)]
    assert gaps[1] >= gaps[0] * 1.5  # the backoff doubles


def test_retries_give_up_after_the_configured_count(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    receiver.fail_first = 100
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_order", "url": f"{receiver.url}/hook/[OrderID]", "retries": 2,
        "backoff": 0.01})
    _new_order(plenty)
    (delivery,) = _wait_idle(plenty)["deliveries"]
    assert len(delivery["attempts"]) == 3
    assert delivery["delivered"] is False
    assert len(receiver.calls) == 3


def test_duplicated_signed_deliveries_verify_and_share_their_id(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_order", "url": f"{receiver.url}/signed/[OrderID]",
        "signingSecret": SECRET, "duplicate": True})
    _new_order(plenty)
    _wait_idle(plenty)
    calls = receiver.wait_for(2)
    assert len(calls) == 2
    verifier = Webhook(SECRET)
    payloads = [verifier.verify(c["body"], {k.lower(): v for k, v in c["headers"].items()})
                for c in calls]
    assert payloads[0] == payloads[1]
    assert calls[0]["headers"]["Webhook-Id"] == calls[1]["headers"]["Webhook-Id"]
    tampered = dict(calls[0]["headers"], **{"Webhook-Signature": "v1,AAAA"})
    with pytest.raises(Exception):  # noqa: B017 - the library's own verification error
        verifier.verify(calls[0]["body"], {k.lower(): v for k, v in tampered.items()})


def test_status_change_via_the_api_fires_only_procedures_for_that_status(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "status_change", "statusId": 8, "url": f"{receiver.url}/cancelled/[OrderID]"})
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "status_change", "statusId": 6, "url": f"{receiver.url}/shipping/[OrderID]"})
    order = _new_order(plenty)
    headers = plenty.authed()
    assert plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                           json={"statusId": 5.1}, timeout=5).status_code == 200
    assert plenty.http.put(f"{plenty.url}/rest/orders/{order['id']}/cancel", headers=headers,
                           json={}, timeout=5).status_code == 200
    _wait_idle(plenty)
    calls = receiver.wait_for(1)
    assert [c["path"] for c in calls] == [f"/cancelled/{order['id']}"]
    assert b'"previousStatusId": 5.1' in calls[0]["body"]


def test_new_return_fires_its_own_trigger(plenty: PlentyServer, receiver: Receiver) -> None:
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_return", "url": f"{receiver.url}/returns/[OrderID]"})
    order = _new_order(plenty)
    headers = plenty.authed()
    full = plenty.http.get(f"{plenty.url}/rest/orders/{order['id']}", headers=headers,
                           timeout=5).json()
    ret = plenty.http.post(f"{plenty.url}/rest/orders/{order['id']}/returns", headers=headers,
                           json={"quantities": [{"orderItemId": full["orderItems"][0]["id"],
                                                 "quantity": 1}], "returnReasonId": 3},
                           timeout=5).json()
    _wait_idle(plenty)
    assert [c["path"] for c in receiver.wait_for(1)] == [f"/returns/{ret['id']}"]


def test_fire_by_hand_with_an_inline_procedure(plenty: PlentyServer, receiver: Receiver) -> None:
    order = _new_order(plenty)
    fired = plenty.admin("POST", "/events/fire", json={
        "orderId": order["id"], "event": "status_change", "statusId": 5,
        "procedure": {"url": f"{receiver.url}/manual/[OrderID]", "method": "PUT",
                      "duplicate": True}})
    assert len(fired["deliveries"]) == 2
    _wait_idle(plenty)
    calls = receiver.wait_for(2)
    assert [(c["method"], c["path"]) for c in calls] == [("PUT", f"/manual/{order['id']}")] * 2


def test_global_copies_setting_repeats_every_delivery(
    plenty: PlentyServer, receiver: Receiver,
) -> None:
    plenty.admin("POST", "/events/procedures", json={
        "trigger": "new_order", "url": f"{receiver.url}/n/[OrderID]"})
    assert plenty.admin("POST", "/events/settings", json={"copies": 3}) == {"copies": 3}
    order = _new_order(plenty)
    _wait_idle(plenty)
    assert [c["path"] for c in receiver.wait_for(3)] == [f"/n/{order['id']}"] * 3
