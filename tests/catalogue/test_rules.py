"""Mappings and export rules applied to a SPoCC stock record, before hashing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import requests

from cli.sync_cmd import _run_locally
from schemas.config import ConnectionConfig, Rules, load_config
from store.models import SyncRun
from tasks.catalogue import control, rules
from tests.catalogue.conftest import ledger, only
from tests.catalogue.support import plenty_state
from tests.conftest import Sandboxes, connection_document
from workers import runtime

BLOCKED = set(range(1, 11))
RECORD: dict[str, Any] = {
    "spoccId": "10000000040",
    "stock": [
        {"channelStore": 1, "onHand": 9, "reserved": 1, "available": 8},
        {"channelStore": 2, "onHand": 0, "reserved": 0, "available": 0},
        {"channelStore": 4, "onHand": 5, "reserved": 0, "available": 5},
    ],
    "prices": {"retail": "79.95", "target": None, "recommendedRetail": "89.9", "currency": "EUR"},
}


def demo(**rule_changes: Any) -> ConnectionConfig:
    doc = connection_document("demo", "http://127.0.0.1:9", "http://127.0.0.1:9")
    conn = load_config(doc)[0]
    return dataclasses.replace(conn, rules=dataclasses.replace(Rules(), **rule_changes))


def test_stock_goes_to_the_mapped_warehouses_and_prices_to_the_mapped_sales_prices() -> None:
    # store 4 has no warehouse (reported by `spocc check`); a null target price is not written
    assert rules.desired_values(demo(), RECORD) == {
        "s:1": 8,
        "s:2": 0,
        "p:1": "79.95",
        "p:3": "89.90",
    }


def test_buffer_is_subtracted_and_the_cap_applied_never_below_zero() -> None:
    values = rules.desired_values(demo(stock_buffer=3, cap_stock=4), RECORD)
    assert (values["s:1"], values["s:2"]) == (4, 0)
    assert rules.desired_values(demo(stock_buffer=20), RECORD)["s:1"] == 0


def test_a_changed_rule_changes_the_hash() -> None:
    plain = rules.values_hash(rules.desired_values(demo(), RECORD))
    buffered = rules.values_hash(rules.desired_values(demo(stock_buffer=1), RECORD))
    assert plain != buffered


def test_only_differing_records_are_written_and_a_missing_stock_row_is_zero() -> None:
    wanted = {"s:1": 8, "s:2": 0, "p:1": "79.95"}
    assert rules.differing(wanted, {"s:1": 8, "p:1": "79.95"}) == {}
    assert rules.differing(wanted, {"s:1": 7}) == {"s:1": 8, "p:1": "79.95"}


@pytest.mark.catalogue(variations=120, plenty_variations=120)
def test_variations_of_a_blocked_product_group_are_never_pushed(
    sandboxes: Sandboxes, make_connection: Callable[..., str]
) -> None:
    conn_id = make_connection(
        sandboxes.plenty_url,
        sandboxes.spocc_url,
        processes=only(),
        rules={"block_product_groups": sorted(BLOCKED)},
    )
    with runtime.db() as session:
        run_id = control.start_run(session, conn_id, "stock_full").id
    _run_locally(conn_id, run_id)
    with runtime.db() as session:
        run = session.get_one(SyncRun, run_id)
    assert run.status == "succeeded"
    assert run.found == 120 and run.skipped > 0 and run.pushed > 0
    assert run.skipped + run.pushed + run.unchanged == 120
    by_id = {v["id"]: number for number, v in plenty_state(sandboxes.plenty_url).items()}
    written = {
        by_id[e["data"]["variationId"]]
        for e in ledger(sandboxes.plenty_url, "stock.corrected", "price.set")
    }
    groups = {spocc_group(sandboxes.spocc_url, spocc_id) for spocc_id in written}
    assert groups and groups.isdisjoint(BLOCKED)


def spocc_group(spocc_url: str, spocc_id: str) -> int:
    answer = requests.get(
        f"{spocc_url}/content-article/v1/variations/{spocc_id}",
        headers={"X-Api-Key": "demo-content-article-key", "X-Retailer-Id": "100001"},
        timeout=10,
    )
    answer.raise_for_status()
    return int(answer.json()["productGroupId"])


@pytest.mark.catalogue(variations=60, plenty_variations=60)
def test_a_backfill_from_a_date_after_every_change_finds_nothing(
    sandboxes: Sandboxes, make_connection: Callable[..., str]
) -> None:
    from datetime import UTC, datetime

    conn_id = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only())
    found = []
    for since in (datetime(2030, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)):
        with runtime.db() as session:
            run_id = control.start_run(session, conn_id, "stock_delta", since=since).id
        _run_locally(conn_id, run_id)
        with runtime.db() as session:
            found.append(session.get_one(SyncRun, run_id).found)
    assert found == [0, 60]


@pytest.mark.catalogue(variations=30, plenty_variations=30)
def test_a_run_over_part_of_the_catalogue_is_not_where_the_next_delta_starts(
    sandboxes: Sandboxes, make_connection: Callable[..., str]
) -> None:
    from tasks.catalogue import runs

    conn_id = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only())
    with runtime.db() as session:
        run_id = control.start_run(session, conn_id, "stock_full", variation="10000000040").id
    _run_locally(conn_id, run_id)
    with runtime.db() as session:
        assert session.get_one(SyncRun, run_id).status == "succeeded"
        assert runs.last_success(session, conn_id, "stock_delta", "stock_full") is None
