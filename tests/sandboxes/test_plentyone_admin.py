"""The PlentyONE sandbox's admin surface: faults, stats, reset, and the runner."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from tests.sandboxes.conftest import PlentyServer


def test_injected_5xx_answers_in_plentyone_error_shape_then_recovers(
    plenty: PlentyServer,
) -> None:
    headers = plenty.authed()
    plenty.admin("POST", "/faults", json={"rules": [
        {"kind": "error", "status": 503, "rate": 1, "times": 1, "path": "^/rest/tags$"}]})
    first = plenty.http.get(f"{plenty.url}/rest/tags", headers=headers, timeout=5)
    assert first.status_code == 503
    assert first.json()["error"]["code"] == 503
    assert plenty.http.get(f"{plenty.url}/rest/tags", headers=headers, timeout=5).status_code \
        == 200


def test_injected_429_carries_retry_after(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    plenty.admin("POST", "/faults", json={"rules": [
        {"kind": "rate_limit", "retryAfter": 7, "times": 1}]})
    answer = plenty.http.get(f"{plenty.url}/rest/items/barcodes", headers=headers, timeout=5)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"


def test_dropped_connection_after_the_effect_still_books_it(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    vid = plenty.http.get(f"{plenty.url}/rest/items/variations", headers=headers,
                          params={"itemsPerPage": 1}, timeout=5).json()["entries"][0]["id"]
    plenty.admin("POST", "/faults", json={"rules": [
        {"kind": "drop_after_effect", "times": 1, "methods": ["PUT"],
         "path": "variation_sales_prices"}]})
    with pytest.raises(requests.ConnectionError):
        plenty.http.put(f"{plenty.url}/rest/items/variations/variation_sales_prices",
                        headers=headers, json=[{"variationId": vid, "salesPriceId": 1,
                                                "price": 12.5}], timeout=5)
    (entry,) = plenty.ledger("price.set")
    assert entry["data"] == {"variationId": vid, "salesPriceId": 1, "price": 12.5,
                             "previous": None}


def test_stats_count_reads_and_writes_per_route(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    plenty.admin("DELETE", "/stats")
    for _ in range(3):
        plenty.http.get(f"{plenty.url}/rest/tags", headers=headers, timeout=5)
    plenty.http.put(f"{plenty.url}/rest/items/variations/variation_sales_prices",
                    headers=headers, json=[], timeout=5)
    stats = plenty.admin("GET", "/stats")
    assert (stats["reads"], stats["writes"]) == (3, 1)
    routes = {(r["method"], r["route"]): r["count"] for r in stats["routes"]}
    assert routes[("GET", "/rest/tags")] == 3


def test_reset_restores_the_seeded_state(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    plenty.admin("POST", "/orders", json={"referrerId": 104.01, "lines": []})
    plenty.admin("POST", "/plan", json={"reads_per_minute": 1})
    plenty.admin("POST", "/reset")
    assert plenty.ledger() == []
    assert plenty.admin("GET", "/plan")["off"] is True
    # Sessions are gone with the state: the old token no longer works.
    assert plenty.http.get(f"{plenty.url}/rest/tags", headers=headers,
                           timeout=5).status_code == 401
    plenty.forget_token()
    found = plenty.http.get(f"{plenty.url}/rest/orders/search", headers=plenty.authed(),
                            timeout=5).json()
    assert found["totalsCount"] == 0
    variations = plenty.http.get(f"{plenty.url}/rest/items/variations",
                                 headers=plenty.authed(), timeout=5).json()
    assert variations["totalsCount"] == 40


def test_runner_prints_url_and_demo_credentials() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandboxes.plentyone", "--port", "0", "--variations", "5"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        lines = [first] + [process.stdout.readline() for _ in range(2)]
        assert first.startswith("PlentyONE sandbox listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[-1].strip()
        assert any("spocc-demo / demo-password" in line for line in lines)
        deadline = time.monotonic() + 10
        while True:
            try:
                login = requests.post(f"{url}/rest/login", timeout=2, json={
                    "username": "spocc-demo", "password": "demo-password"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert login.status_code == 200
        info = requests.get(f"{url}/__admin/info", timeout=2).json()
        assert info["variations"] == 5
        assert info["lookups"]["barcode_types"]["spocc_id"] == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
