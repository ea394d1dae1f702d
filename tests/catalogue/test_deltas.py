"""Every delta after the first one works (issue 9, item 11): ten consecutive deltas of stock
and price changes on one connection all succeed, each writing close to its bulk minimum."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from tests.catalogue.conftest import clear_stats, ledger, writes
from tests.catalogue.support import assert_in_sync, start_run, wait_run
from tests.conftest import Sandboxes
from tests.support.processes import SpoccProcess

BULK = 50


def bulk_minimum(plenty_url: str, since_seq: int) -> int:
    """⌈records / 50⌉ per bulk route and warehouse, from what the ledger says was written."""
    per_route: Counter[str] = Counter()
    for entry in ledger(plenty_url, "stock.corrected", "price.set"):
        if entry["seq"] <= since_seq:
            continue
        data = entry["data"]
        if entry["kind"] == "stock.corrected":
            per_route[f"stock:{data['warehouseId']}"] += 1
        else:
            per_route["price:new" if data.get("previous") is None else "price:set"] += 1
    return sum(math.ceil(n / BULK) for n in per_route.values())


def last_seq(plenty_url: str) -> int:
    return max((e["seq"] for e in ledger(plenty_url)), default=0)


@pytest.mark.catalogue(variations=5000, plenty_variations=5000)
def test_ten_consecutive_deltas_all_succeed_near_the_bulk_minimum(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    plenty, spocc = sandboxes.plenty_url, sandboxes.spocc_url
    full = wait_run(start_run(sync_connection, "stock_full"), timeout=300)
    assert full.status == "succeeded", full.reason
    calls, minimum = 0, 0
    for n in range(10):
        # 10 % of the variations get new stock and prices; some target prices disappear
        # (a price under 14.95 has none) and come back in a later delta
        requests.post(
            f"{spocc}/__admin/catalogue/mutate", json={"percent": 10, "kind": "stock"}, timeout=10
        ).raise_for_status()
        seq = last_seq(plenty)
        clear_stats(plenty)
        delta = wait_run(start_run(sync_connection, "stock_delta"), timeout=180)
        assert delta.status == "succeeded", f"delta {n + 1}: {delta.reason}"
        assert delta.failed == 0 and delta.pushed > 0
        calls += writes(plenty)
        minimum += bulk_minimum(plenty, seq)
    assert_in_sync(spocc, plenty)
    assert calls <= 1.1 * minimum, f"{calls} write calls for a minimum of {minimum}"
