"""What `spocc status` and `spocc check` learn from the catalogue sync."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from rich.console import Console

from cli.sync_cmd import _run_locally
from clients import build_spocc
from tasks.catalogue import control
from tests.catalogue.conftest import only
from tests.conftest import Sandboxes, SpoccEnv, connection_document
from workers import runtime


@pytest.mark.catalogue(variations=50, plenty_variations=50)
def test_status_shows_the_last_successful_run_with_its_counts(
    sandboxes: Sandboxes, sync_connection: str
) -> None:
    with runtime.db() as session:
        run_id = control.start_run(session, sync_connection, "stock_full").id
    _run_locally(sync_connection, run_id)
    with runtime.db() as session:
        rows = {r.process: r for r in control.catalogue_status(session, sync_connection)}
        table = control.status_table(session, sync_connection)
    assert rows["stock_full"].last_success is not None
    assert rows["stock_full"].last_success.id == run_id
    assert rows["stock_full"].in_progress is None
    assert rows["stock_delta"].last_success is None
    console = Console(width=200, record=True)
    console.print(table)
    assert "found 50, pushed 50" in console.export_text()


@pytest.mark.catalogue(variations=20)
def test_check_names_channel_stores_without_a_warehouse(
    spocc_env: SpoccEnv, sandboxes: Sandboxes, make_connection: Callable[..., str]
) -> None:
    doc = connection_document("x", sandboxes.plenty_url, sandboxes.spocc_url)
    mappings = doc["connections"][0]["mappings"]
    mappings["warehouses"] = [{"channel_store": 1, "warehouse_id": 1}]
    conn_id = make_connection(
        sandboxes.plenty_url, sandboxes.spocc_url, mappings=mappings, processes=only()
    )
    conn = runtime.connection(conn_id)
    spocc = build_spocc(conn, redis.Redis.from_url(spocc_env.redis_url))
    assert control.unmapped_channel_stores(conn, spocc) == [2, 3]
