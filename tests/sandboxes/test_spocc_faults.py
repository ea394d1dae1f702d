"""Fault injection through /__admin/faults, seen from a client over real HTTP, and the stats
and ledger that prove what happened."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.sandboxes.spocc_fixtures import SpoccServer

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "street": "Hauptstraße",
           "houseNumber": "1", "postalCode": "10115", "city": "Berlin", "country": "DE"}


def _order(spocc: SpoccServer, plenty_order_id: int = 4711) -> dict[str, Any]:
    items = spocc.stock("/stock", params={"pageSize": 100}).json()["items"]
    spocc_id = next(i["spoccId"] for i in items if i["stock"][0]["available"] >= 5)
    return {"plentyOrderId": plenty_order_id, "channelStore": 1, "referrerId": 1,
            "billingAddress": ADDRESS,
            "lines": [{"spoccId": spocc_id, "quantity": 1, "price": "49.95"}]}


def _faults(spocc: SpoccServer, *rules: dict[str, Any], seed: int = 1) -> None:
    spocc.admin("POST", "/faults", json={"seed": seed, "rules": list(rules)})


def _statuses(spocc: SpoccServer, n: int) -> list[int]:
    return [spocc.stock("/stock", params={"pageSize": 1}).status_code for _ in range(n)]


def test_error_rate_answers_the_configured_5xx_deterministically(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "error", "rate": 0.3, "status": 503, "path": "^/global-stock/"})
    first = _statuses(spocc, 100)
    assert set(first) == {200, 503}
    assert 15 <= first.count(503) <= 45
    _faults(spocc, {"kind": "error", "rate": 0.3, "status": 503, "path": "^/global-stock/"})
    assert _statuses(spocc, 100) == first  # same seed, same requests: same faults
    answer = None
    for _ in range(50):
        answer = spocc.stock("/stock")
        if answer.status_code == 503:
            break
    assert answer is not None and answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
    fired = spocc.admin("GET", "/faults")["rules"][0]["fired"]
    assert fired == first.count(503) + 1  # the second batch of 100, then the one just seen


def test_error_fault_honours_path_and_method_filters(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "error", "status": 500, "methods": ["POST"],
                    "path": "/transaction-service/v1/orders$"})
    assert spocc.stock("/stock", params={"pageSize": 1}).status_code == 200
    assert spocc.tx("GET", "/orders").status_code == 200
    answer = spocc.tx("POST", "/orders", json=_order(spocc), idem="k")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    assert spocc.ledger() == []


def test_times_caps_how_often_a_rule_fires(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "error", "status": 502, "times": 2})
    assert _statuses(spocc, 4) == [502, 502, 200, 200]


def test_rate_limit_fault_is_429_with_retry_after(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "rate_limit", "retryAfter": 7, "times": 1})
    answer = spocc.stock("/stock")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error"] == {
        "code": "rate_limited", "message": answer.json()["error"]["message"],
        "details": {"retryAfter": 7},
    }
    assert spocc.stock("/stock").status_code == 200


def test_slow_answers_arrive_after_the_delay(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "slow", "delay": 0.4, "times": 1})
    started = time.monotonic()
    assert spocc.stock("/stock", params={"pageSize": 1}).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_a_hang_outlasts_the_client_timeout_and_applies_nothing(spocc: SpoccServer) -> None:
    body = _order(spocc)
    _faults(spocc, {"kind": "hang", "delay": 5, "path": "/orders$", "times": 1})
    with pytest.raises(requests.ReadTimeout):
        spocc.tx("POST", "/orders", json=body, idem="hang", timeout=0.5)
    spocc.admin("DELETE", "/faults")  # releases the hanging request
    assert spocc.ledger() == []
    assert spocc.tx("POST", "/orders", json=body, idem="hang").status_code == 201


def test_drop_after_effect_applies_the_effect_and_the_retry_replays_it(
    spocc: SpoccServer,
) -> None:
    body = _order(spocc)
    _faults(spocc, {"kind": "drop_after_effect", "path": "/orders$", "methods": ["POST"],
                    "times": 1})
    with pytest.raises(requests.ConnectionError):
        spocc.tx("POST", "/orders", json=body, idem="lost-answer")
    (entry,) = spocc.ledger("order.registered")  # registered, though the client never heard
    assert entry["idempotencyKey"] == "lost-answer"
    retry = spocc.tx("POST", "/orders", json=body, idem="lost-answer")
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["spoccOrderId"] == entry["data"]["spoccOrderId"]
    assert len(spocc.ledger("order.registered")) == 1
    # A naive retry under a new key is still caught by the PlentyONE order id.
    naive = spocc.tx("POST", "/orders", json=body, idem="new-key")
    assert naive.status_code == 409 and naive.json()["error"]["code"] == "order_exists"


def test_admin_routes_are_never_faulted(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "error", "rate": 1.0})
    assert spocc.admin("GET", "/stats")["total"] == 0
    assert spocc.admin("GET", "/ledger")["count"] == 0


def test_bad_fault_rules_are_refused(spocc: SpoccServer) -> None:
    for rule in ({"kind": "explode"}, {"kind": "error", "rate": 2},
                 {"kind": "error", "status": 404}, {"kind": "slow", "path": "("},
                 {"kind": "corrupt"}):
        answer = spocc.http.post(f"{spocc.url}/__admin/faults", json={"rules": [rule]},
                                 timeout=10)
        assert answer.status_code == 400, rule


def test_stats_count_calls_per_route_reads_and_writes_including_faults(
    spocc: SpoccServer,
) -> None:
    spocc.admin("DELETE", "/stats")
    body = _order(spocc)
    spocc.tx("POST", "/orders", json=body, idem="s1")
    spocc.tx("GET", "/orders", params={"plentyOrderId": 4711})
    oid = spocc.ledger("order.registered")[0]["data"]["spoccOrderId"]
    spocc.tx("GET", f"/orders/{oid}/status")
    spocc.tx("GET", f"/orders/{oid}/status")
    _faults(spocc, {"kind": "error", "times": 1})
    spocc.tx("GET", f"/orders/{oid}/status")
    stats = spocc.admin("GET", "/stats")
    routes = {(r["method"], r["route"]): r for r in stats["routes"]}
    poll = routes[("GET", "/transaction-service/v1/orders/<spocc_order_id>/status")]
    assert poll["count"] == 3 and poll["statuses"] == {"200": 2, "503": 1}
    assert stats["writes"] == 1 and stats["reads"] == stats["total"] - 1
    assert stats["faults"] == {"error": 1}


def test_reset_clears_orders_ledger_faults_stats_and_mutations(spocc: SpoccServer) -> None:
    spocc.tx("POST", "/orders", json=_order(spocc), idem="before-reset")
    spocc.admin("POST", "/catalogue/mutate", json={"percent": 50})
    _faults(spocc, {"kind": "error", "rate": 0.5})
    spocc.admin("POST", "/reset")
    assert spocc.ledger() == [] and spocc.admin("GET", "/faults")["rules"] == []
    assert spocc.admin("GET", "/stats")["total"] == 0
    assert spocc.tx("GET", "/orders").json()["totalCount"] == 0
    assert spocc.admin("GET", "/info")["generation"] == 0
    since = "2026-01-02T00:00:00Z"
    assert spocc.stock("/stock", params={"changedSince": since}).json()["totalCount"] == 0


def test_corrupt_answers_lose_or_retype_the_named_fields(spocc: SpoccServer) -> None:
    _faults(spocc, {"kind": "corrupt", "path": "/stock$", "times": 1,
                    "remove": ["items.0.prices.retail", "items.*.changedAt"],
                    "replace": {"totalCount": "many", "items.1.stock.0.onHand": "five"}})
    bad = spocc.stock("/stock", params={"pageSize": 3})
    assert bad.status_code == 200
    body = bad.json()
    assert int(bad.headers["Content-Length"]) == len(bad.content)
    assert body["totalCount"] == "many"
    assert "retail" not in body["items"][0]["prices"]
    assert all("changedAt" not in item for item in body["items"])
    assert body["items"][1]["stock"][0]["onHand"] == "five"
    good = spocc.stock("/stock", params={"pageSize": 3}).json()
    assert good["totalCount"] == 600 and "retail" in good["items"][0]["prices"]
    assert spocc.admin("GET", "/stats")["faults"] == {"corrupt": 1}
