"""A run survives a killed worker and a rate-limited PlentyONE; a unit failing for good
becomes a dead letter and marks its run, the other units are done."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import select, update

from store.catalogue_models import CatalogueLink, SyncUnit
from store.models import DeadLetter
from tests.catalogue.conftest import apply_connection, ledger, only, stats
from tests.catalogue.support import assert_in_sync, run_row, start_run, wait_run
from tests.conftest import Sandboxes, SpoccEnv, connection_document
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime


def units(run_id: int) -> list[SyncUnit]:
    with runtime.db() as session:
        return list(session.execute(select(SyncUnit).where(SyncUnit.run_id == run_id)).scalars())


def faults(url: str, *rules: dict[str, object]) -> None:
    requests.post(
        f"{url}/__admin/faults", json={"seed": 1, "rules": list(rules)}, timeout=10
    ).raise_for_status()


@pytest.mark.catalogue(variations=1000, plenty_variations=1000)
def test_worker_killed_mid_run_the_run_completes_every_record_written_once(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    # slow writes, so the kill lands while units are in flight
    faults(
        sandboxes.plenty_url,
        {
            "kind": "slow",
            "delay": 0.3,
            "methods": ["PUT", "POST"],
            "path": "/rest/(stockmanagement|items/variations/variation_sales)",
        },
    )
    # short leases: the killed worker's units come back in seconds (the sweeper is not
    # running here: a redelivered message waits out the lease, then claims its unit)
    fast = {"SPOCC_CATALOGUE_LEASE_SECONDS": "6", "SPOCC_CATALOGUE_LEASE_RENEW_SECONDS": "2"}
    first = worker_factory(queues="catalogue,default", concurrency=2, **fast)
    run_id = start_run(sync_connection, "stock_full")
    wait_until(
        lambda: len(ledger(sandboxes.plenty_url, "stock.corrected")) >= 20, 60, "writes to start"
    )
    first.kill_main()
    first.stop()
    worker_factory(queues="catalogue,default", concurrency=2, name="second", **fast)
    run = wait_run(run_id, timeout=150)
    assert run.status == "succeeded", run.reason
    assert {u.status for u in units(run_id)} == {"done"}
    assert run.found == 1000 and run.pushed + run.unchanged == 1000
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)
    # a redone unit re-reads PlentyONE: what the killed worker wrote is not written again
    per_record = Counter(
        (e["data"]["variationId"], e["data"].get("warehouseId"), e["data"].get("salesPriceId"))
        for e in ledger(sandboxes.plenty_url, "stock.corrected", "price.set")
    )
    assert set(per_record.values()) == {1}


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_rate_limited_plentyone_slows_the_run_which_completes(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    faults(
        sandboxes.plenty_url,
        {
            "kind": "rate_limit",
            "rate": 0.5,
            "retryAfter": 1,
            "times": 8,
            "methods": ["PUT", "POST"],
            "path": "/rest/(stock|items)",
        },
    )
    worker_factory(queues="catalogue,default", concurrency=2)
    run = wait_run(start_run(sync_connection, "stock_full"), timeout=150)
    assert run.status == "succeeded", run.reason
    assert stats(sandboxes.plenty_url)["faults"].get("rate_limit", 0) > 0
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_a_unit_failing_for_good_is_a_dead_letter_and_marks_the_run(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    assert wait_run(start_run(sync_connection, "stock_full")).status == "succeeded"
    # one variation was deleted in PlentyONE by hand: writes to it are refused (422)
    spocc_ids = ["10000000040", "10000000041", "10000000042", "10000001040", "10000001041"]
    with runtime.db() as session:
        present = set(
            session.execute(
                select(CatalogueLink.spocc_id).where(
                    CatalogueLink.connection_id == sync_connection,
                    CatalogueLink.spocc_id.in_(spocc_ids),
                )
            ).scalars()
        )
        broken = sorted(present)[0]
        session.execute(
            update(CatalogueLink)
            .where(CatalogueLink.connection_id == sync_connection, CatalogueLink.spocc_id == broken)
            .values(variation_id=987654)
        )
    for spocc_id in present:
        requests.post(
            f"{sandboxes.spocc_url}/__admin/stock",
            json={"spoccId": spocc_id, "onHand": 77},
            timeout=10,
        ).raise_for_status()
    run = wait_run(start_run(sync_connection, "stock_delta"))
    assert run.status == "failed"
    assert run.failed == 1 and run.pushed == len(present) - 1
    assert (run.reason is not None and "dead" in run.reason) or "dlq" in (run.reason or "")
    with runtime.db() as session:
        letters = (
            session.execute(select(DeadLetter).where(DeadLetter.connection_id == sync_connection))
            .scalars()
            .all()
        )
    assert [letter.task_name for letter in letters] == ["spocc.catalogue.unit"]
    assert "987654" in letters[0].last_error
    stocked = {
        e["data"]["variationId"]
        for e in ledger(sandboxes.plenty_url, "stock.corrected")
        if e["data"]["quantity"] == 77
    }
    assert len(stocked) == len(present) - 1


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_an_error_every_key_meets_is_not_split_into_one_key_units(
    spocc_env: SpoccEnv,
    sandboxes: Sandboxes,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    # a sales price PlentyONE does not have: every price write of every variation is refused
    doc = connection_document(
        f"c-{uuid.uuid4().hex[:8]}", sandboxes.plenty_url, sandboxes.spocc_url, processes=only()
    )
    doc["connections"][0]["mappings"]["sales_prices"]["target"] = 999
    apply_connection(spocc_env, doc)
    conn_id = doc["connections"][0]["id"]
    worker_factory(queues="catalogue,default", concurrency=2)
    run = wait_run(start_run(conn_id, "stock_full"))
    assert run.status == "failed"
    # the unit, then its two halves: not 300 one-key units each spending a write call
    assert len(units(run.id)) == 3
    assert run.failed == 300
    price_writes = sum(
        r["count"]
        for r in stats(sandboxes.plenty_url)["routes"]
        if r["route"] == "/rest/items/variations/variation_sales_prices" and r["method"] != "GET"
    )
    assert price_writes <= 3
    with runtime.db() as session:
        letters = (
            session.execute(select(DeadLetter).where(DeadLetter.connection_id == conn_id))
            .scalars()
            .all()
        )
    assert len(letters) == 2 and all("unknown sales price 999" in d.last_error for d in letters)


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_a_replayed_unit_of_a_closed_run_updates_that_run(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    from workers.replay import replay

    worker_factory(queues="catalogue,default", concurrency=2)
    assert wait_run(start_run(sync_connection, "stock_full")).status == "succeeded"
    spocc_id = "10000000040"
    with runtime.db() as session:
        link = session.get_one(CatalogueLink, (sync_connection, spocc_id))
        real = link.variation_id
        link.variation_id = 987654  # deleted in PlentyONE by hand: its writes are refused
    requests.post(
        f"{sandboxes.spocc_url}/__admin/stock",
        json={"spoccId": spocc_id, "onHand": 55},
        timeout=10,
    ).raise_for_status()
    run = wait_run(start_run(sync_connection, "stock_delta"))
    assert (run.status, run.failed, run.pushed) == ("failed", 1, 0)
    # the operator repairs the link and replays the dead letter: the closed run follows
    with runtime.db() as session:
        session.get_one(CatalogueLink, (sync_connection, spocc_id)).variation_id = real
        letter = session.execute(
            select(DeadLetter).where(DeadLetter.connection_id == sync_connection)
        ).scalar_one()
        replay(session, letter.id)
    wait_until(lambda: run_row(run.id).status == "succeeded", 60, "the run to be settled")
    settled = run_row(run.id)
    assert (settled.failed, settled.pushed) == (0, 1)
    assert "replayed" in (settled.reason or "")
    assert any(
        e["data"]["variationId"] == real and e["data"]["quantity"] == 55
        for e in ledger(sandboxes.plenty_url, "stock.corrected")
    )
