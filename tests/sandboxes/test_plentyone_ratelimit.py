"""The X-Plenty rate-limit headers and 429 + Retry-After of the PlentyONE sandbox."""

from __future__ import annotations

import time

from tests.sandboxes.conftest import PlentyFactory, PlentyServer

HEADER_FAMILIES = ("Global-Long-Period", "Global-Short-Period", "Route")


def test_every_answer_carries_the_three_header_families(plenty: PlentyServer) -> None:
    login = plenty.http.post(f"{plenty.url}/rest/login",
                             json={"username": "spocc-demo", "password": "demo-password"},
                             timeout=5)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    answers = [login,
               plenty.http.get(f"{plenty.url}/rest/tags", headers=headers, timeout=5),
               plenty.http.get(f"{plenty.url}/rest/orders/99999", headers=headers, timeout=5),
               plenty.http.get(f"{plenty.url}/rest/tags", timeout=5)]
    assert [a.status_code for a in answers] == [200, 200, 404, 401]
    for answer in answers:
        for family in HEADER_FAMILIES:
            for part in ("Limit", "Calls-Left", "Decay"):
                assert f"X-Plenty-{family}-{part}" in answer.headers, (answer.url, family, part)


def test_calls_left_decrease_then_429_with_retry_after(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(plan={"reads_per_minute": 5, "writes_per_minute": 2,
                                  "daily_cap": 1000})
    headers = plenty.authed()
    url = f"{plenty.url}/rest/items/barcodes"
    left = []
    for _ in range(5):
        answer = plenty.http.get(url, headers=headers, timeout=5)
        assert answer.status_code == 200
        assert answer.headers["X-Plenty-Global-Short-Period-Limit"] == "5"
        left.append(int(answer.headers["X-Plenty-Global-Short-Period-Calls-Left"]))
    assert left == [4, 3, 2, 1, 0]
    refused = plenty.http.get(url, headers=headers, timeout=5)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Plenty-Global-Short-Period-Calls-Left"] == "0"
    # Writes have their own budget, still untouched by the reads.
    put = plenty.http.put(f"{plenty.url}/rest/items/variations", headers=headers, json=[],
                          timeout=5)
    assert put.status_code == 200
    assert put.headers["X-Plenty-Global-Short-Period-Limit"] == "2"
    assert put.headers["X-Plenty-Global-Short-Period-Calls-Left"] == "1"
    # The daily budget counts every accepted call.
    assert put.headers["X-Plenty-Global-Long-Period-Calls-Left"] == str(1000 - 6)
    stats = plenty.admin("GET", "/stats")
    assert any(r["statuses"].get("429") == 1 for r in stats["routes"])


def test_window_resets_after_its_decay(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(plan={"reads_per_minute": 2, "writes_per_minute": 2,
                                  "window_seconds": 1})
    headers = plenty.authed()
    url = f"{plenty.url}/rest/tags"
    assert [plenty.http.get(url, headers=headers, timeout=5).status_code
            for _ in range(3)] == [200, 200, 429]
    deadline = time.monotonic() + 5
    status = 429
    while status == 429 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = plenty.http.get(url, headers=headers, timeout=5).status_code
    assert status == 200


def test_daily_cap_refuses_past_the_long_period(plenty_factory: PlentyFactory) -> None:
    plenty = plenty_factory(plan={"reads_per_minute": 100, "writes_per_minute": 100,
                                  "daily_cap": 3})
    headers = plenty.authed()
    codes = [plenty.http.get(f"{plenty.url}/rest/tags", headers=headers, timeout=5).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_plan_is_set_through_the_admin_endpoint(plenty: PlentyServer) -> None:
    headers = plenty.authed()
    url = f"{plenty.url}/rest/tags"
    assert plenty.admin("GET", "/plan")["off"] is True
    plan = plenty.admin("POST", "/plan", json={"reads_per_minute": 1, "writes_per_minute": 1})
    assert plan["reads_per_minute"] == 1
    assert [plenty.http.get(url, headers=headers, timeout=5).status_code
            for _ in range(2)] == [200, 429]
    plenty.admin("POST", "/plan", json={"plan": "off"})
    assert all(plenty.http.get(url, headers=headers, timeout=5).status_code == 200
               for _ in range(5))
    tier = plenty.admin("POST", "/plan", json={"plan": "enterprise"})
    assert (tier["reads_per_minute"], tier["writes_per_minute"]) == (280, 120)
