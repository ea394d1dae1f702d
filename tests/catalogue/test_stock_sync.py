"""Stock and prices end to end: real workers, both sandboxes, asserted through their ledgers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import requests

from tests.catalogue.conftest import clear_stats, ledger, writes
from tests.catalogue.support import assert_in_sync, start_run, wait_run
from tests.conftest import ON_BOTH_DATABASES, Sandboxes
from tests.support.processes import SpoccProcess

WRITE_ROUTES = ("stock.corrected", "price.set")


def write_calls(url: str) -> int:
    return writes(url)


@ON_BOTH_DATABASES
@pytest.mark.catalogue(variations=600, plenty_variations=600)
def test_full_then_delta_stock_and_prices(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    plenty = sandboxes.plenty_url

    first = wait_run(start_run(sync_connection, "stock_full"))
    assert first.status == "succeeded", first.reason
    assert first.found == 600 and first.failed == 0
    assert first.pushed + first.unchanged == 600
    assert_in_sync(sandboxes.spocc_url, plenty)
    # each record written once: a variation's stock per warehouse, its prices per sales price
    per_record = Counter(
        (e["data"]["variationId"], e["data"].get("warehouseId"), e["data"].get("salesPriceId"))
        for e in ledger(plenty, *WRITE_ROUTES)
    )
    assert per_record and set(per_record.values()) == {1}

    # an unchanged catalogue: a full run repairs nothing, so it writes nothing
    clear_stats(plenty)
    again = wait_run(start_run(sync_connection, "stock_full"))
    assert again.status == "succeeded"
    assert (again.pushed, again.unchanged) == (0, 600)
    # the planner found nothing to do: no unit was even sent
    assert again.units == 0
    assert write_calls(plenty) == 0

    # 5 % of SPoCC changes: the delta lists them and writes only them
    changed = requests.post(
        f"{sandboxes.spocc_url}/__admin/catalogue/mutate",
        json={"percent": 5, "kind": "stock"},
        timeout=10,
    ).json()["count"]
    clear_stats(plenty)
    seq = max((e["seq"] for e in ledger(plenty)), default=0)
    delta = wait_run(start_run(sync_connection, "stock_delta"))
    assert delta.status == "succeeded", delta.reason
    assert_in_sync(sandboxes.spocc_url, plenty)
    touched = {e["data"]["variationId"] for e in ledger(plenty, *WRITE_ROUTES) if e["seq"] > seq}
    assert 0 < len(touched) <= changed
    # bulk: 50 records a call, so never more calls than one per warehouse and price route
    # per started 50 variations
    assert write_calls(plenty) <= 6 * -(-changed // 50)


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_full_run_corrects_a_hand_edit_in_plentyone(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    assert wait_run(start_run(sync_connection, "stock_full")).status == "succeeded"
    token = requests.post(
        f"{sandboxes.plenty_url}/rest/login",
        json={"username": "spocc-demo", "password": "demo-password"},
        timeout=10,
    ).json()["access_token"]
    edited = ledger(sandboxes.plenty_url, "stock.corrected")[0]["data"]
    requests.put(
        f"{sandboxes.plenty_url}/rest/stockmanagement/warehouses/{edited['warehouseId']}"
        "/stock/correction",
        json={
            "corrections": [
                {
                    "variationId": edited["variationId"],
                    "quantity": 999,
                    "storageLocationId": 0,
                    "reasonId": 301,
                }
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()
    # a delta sees no change in SPoCC and leaves it; the full run repairs it
    assert wait_run(start_run(sync_connection, "stock_delta")).pushed == 0
    repaired = wait_run(start_run(sync_connection, "stock_full"))
    assert (repaired.status, repaired.pushed) == ("succeeded", 1)
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)
