"""Each SPoCC API takes only its own key, and the Retailer ID header."""

from __future__ import annotations

import pytest
import requests

from sandboxes.spocc import API_NAMES, CONTENT_ARTICLE, GLOBAL_STOCK, TRANSACTION_SERVICE
from tests.sandboxes.spocc_fixtures import PREFIXES, SpoccServer

PROBES = {
    CONTENT_ARTICLE: "/articles",
    GLOBAL_STOCK: "/stock",
    TRANSACTION_SERVICE: "/orders",
}


@pytest.mark.parametrize("api", API_NAMES)
def test_missing_key_is_401_with_the_error_body(spocc: SpoccServer, api: str) -> None:
    headers = {"X-Retailer-Id": spocc.running.credentials.retailer_id}
    answer = spocc.http.get(f"{spocc.url}{PREFIXES[api]}{PROBES[api]}", headers=headers,
                            timeout=10)
    assert answer.status_code == 401
    body = answer.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["details"] == {}
    assert body["requestId"] == answer.headers["X-Request-Id"]


@pytest.mark.parametrize("api", API_NAMES)
def test_wrong_key_is_401(spocc: SpoccServer, api: str) -> None:
    answer = spocc.call(api, "GET", PROBES[api], headers={"X-Api-Key": "not-the-key"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("api", API_NAMES)
def test_another_apis_key_is_401(spocc: SpoccServer, api: str) -> None:
    other = next(a for a in API_NAMES if a != api)
    answer = spocc.call(
        api, "GET", PROBES[api],
        headers={"X-Api-Key": spocc.running.credentials.keys[other]},
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("api", API_NAMES)
def test_own_key_is_accepted_and_ping_names_the_api(spocc: SpoccServer, api: str) -> None:
    answer = spocc.call(api, "GET", "/ping")
    assert answer.status_code == 200
    assert answer.json()["api"] == api
    assert answer.json()["retailerId"] == spocc.running.credentials.retailer_id


def test_missing_retailer_is_400_and_a_foreign_retailer_403(spocc: SpoccServer) -> None:
    key = spocc.running.credentials.keys[GLOBAL_STOCK]
    url = f"{spocc.url}{PREFIXES[GLOBAL_STOCK]}/stock"
    missing = spocc.http.get(url, headers={"X-Api-Key": key}, timeout=10)
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "missing_retailer_id")
    foreign = spocc.http.get(url, headers={"X-Api-Key": key, "X-Retailer-Id": "999"},
                             timeout=10)
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "unknown_retailer")


def test_health_and_images_need_no_key(spocc: SpoccServer) -> None:
    assert requests.get(f"{spocc.url}/health", timeout=10).json() == {"status": "ok"}
    article = spocc.content("/articles", params={"pageSize": 1}).json()["items"][0]
    image = article["colours"][0]["images"][0]
    assert requests.get(image["url"], timeout=10).status_code == 200


def test_unknown_route_is_a_json_404(spocc: SpoccServer) -> None:
    answer = spocc.content("/no-such-thing")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_rate_limit_answers_429_with_retry_after_and_no_effect(spocc: SpoccServer) -> None:
    spocc.admin("POST", "/rate-limits", json={"limits": {GLOBAL_STOCK: 3}, "windowSeconds": 30})
    answers = [spocc.stock("/stock", params={"pageSize": 1}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["details"]["retryAfter"] == int(limited.headers["Retry-After"])
    # Each API has its own budget.
    assert spocc.content("/product-groups").status_code == 200
