"""Helpers of the catalogue tests: start runs, wait for them, compare the sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from store.models import SyncRun
from tasks.catalogue import control
from tasks.catalogue.tasks import start
from tests.support.processes import wait_until
from workers import runtime


def start_run(conn_id: str, process: str, **options: Any) -> int:
    with runtime.db() as session:
        run = control.start_run(session, conn_id, process, **options)
        run_id = run.id
    start(conn_id, run_id)
    return run_id


def run_row(run_id: int) -> SyncRun:
    with runtime.db() as session:
        return session.get_one(SyncRun, run_id)


def wait_run(run_id: int, timeout: float = 120.0) -> SyncRun:
    wait_until(lambda: run_row(run_id).status != "running", timeout, f"run {run_id} to finish")
    return run_row(run_id)


def spocc_stock(spocc_url: str) -> dict[str, dict[str, Any]]:
    """Every variation's stock and prices, as the SPoCC sandbox has them."""
    headers = {"X-Api-Key": "demo-global-stock-key", "X-Retailer-Id": "100001"}
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = requests.get(
            f"{spocc_url}/global-stock/v1/stock",
            params={"page": page, "pageSize": 1000},
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        out.update({item["spoccId"]: item for item in body["items"]})
        if body["isLastPage"]:
            return out
        page += 1


def plenty_state(plenty_url: str) -> dict[str, dict[str, Any]]:
    """Every variation's stock per warehouse and prices, by number, as PlentyONE has them."""
    token = requests.post(
        f"{plenty_url}/rest/login",
        json={"username": "spocc-demo", "password": "demo-password"},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = requests.get(
            f"{plenty_url}/rest/items/variations",
            params={"page": page, "itemsPerPage": 250, "with": "stock,variationSalesPrices"},
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        for v in body["entries"]:
            out[v["number"]] = {
                "id": v["id"],
                "isActive": v.get("isActive"),
                "stock": {s["warehouseId"]: s["stockPhysical"] for s in v.get("stock") or []},
                "prices": {
                    p["salesPriceId"]: round(float(p["price"]), 2)
                    for p in v.get("variationSalesPrices") or []
                },
            }
        if body["isLastPage"]:
            return out
        page += 1


def expected_from_spocc(record: dict[str, Any]) -> dict[str, Any]:
    """The demo connection's mapping: store n → warehouse n, retail/target/RRP → 1/2/3."""
    prices = record["prices"]
    wanted = {1: prices["retail"], 2: prices["target"], 3: prices["recommendedRetail"]}
    return {
        "stock": {s["channelStore"]: float(s["available"]) for s in record["stock"]},
        "prices": {k: round(float(v), 2) for k, v in wanted.items() if v is not None},
    }


def assert_in_sync(spocc_url: str, plenty_url: str) -> None:
    spocc = spocc_stock(spocc_url)
    plenty = plenty_state(plenty_url)
    wrong = []
    for spocc_id, record in spocc.items():
        have = plenty.get(spocc_id)
        want = expected_from_spocc(record)
        if (
            have is None
            or _nonzero(have["stock"]) != _nonzero(want["stock"])
            # a price SPoCC no longer has stays in PlentyONE: the API has no route to delete one
            or {k: have["prices"].get(k) for k in want["prices"]} != want["prices"]
        ):
            wrong.append((spocc_id, want, have))
    assert not wrong, f"{len(wrong)} variations differ, e.g. {wrong[:2]}"


def _nonzero(stock: dict[int, float]) -> dict[int, float]:
    # PlentyONE has no stock row where nothing was ever booked: that is 0
    return {k: v for k, v in stock.items() if v}


@contextmanager
def sandbox_pair(variations: int, plan: str = "off") -> Iterator[tuple[str, str]]:
    """A second pair of sandboxes (PlentyONE, SPoCC), for a second retailer."""
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    plenty = start_background(variations=variations, plan=plan)
    spocc = start_spocc(variations=variations)
    try:
        yield str(plenty.url), str(spocc.url)
    finally:
        spocc.stop()
        plenty.shutdown()
