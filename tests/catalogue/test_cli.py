"""`spocc sync` (dry run, one variation) and `spocc pause|resume`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from cli import sync_cmd
from store.models import Connection
from tests.catalogue.conftest import ledger, writes
from tests.catalogue.support import plenty_state, spocc_stock
from tests.conftest import Sandboxes
from tests.support.processes import SpoccProcess
from workers import runtime


@pytest.mark.catalogue(variations=120, plenty_variations=120)
def test_dry_run_reports_what_would_be_written_and_writes_nothing(
    sandboxes: Sandboxes, sync_connection: str
) -> None:
    result = CliRunner().invoke(
        sync_cmd.sync, ["stock-full", "--connection", sync_connection, "--dry-run", "--local"]
    )
    assert result.exit_code == 0, result.output
    assert "nothing was written; 120 item(s) would be written" in result.output
    assert writes(sandboxes.plenty_url) == 0
    assert ledger(sandboxes.plenty_url, "stock.corrected", "price.set") == []


@pytest.mark.catalogue(variations=120, plenty_variations=120)
def test_sync_of_one_variation_through_the_workers(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=1)
    spocc_id = sorted(spocc_stock(sandboxes.spocc_url))[7]
    result = CliRunner().invoke(
        sync_cmd.sync,
        ["stock_full", "--connection", sync_connection, "--variation", spocc_id, "--timeout", "60"],
    )
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "found 1," in result.output
    written = {e["data"]["variationId"] for e in ledger(sandboxes.plenty_url, "price.set")}
    assert written == {plenty_state(sandboxes.plenty_url)[spocc_id]["id"]}


def test_pause_and_resume_a_connection_and_a_process(
    make_connection: Callable[..., str],
) -> None:
    conn_id = make_connection()
    runner = CliRunner()
    assert runner.invoke(sync_cmd.pause, [conn_id]).exit_code == 0
    assert runner.invoke(sync_cmd.pause, [conn_id, "--process", "images"]).exit_code == 0
    with runtime.db() as session:
        row = session.get_one(Connection, conn_id)
        assert (row.paused, row.paused_processes) == (True, ["images"])
    assert runner.invoke(sync_cmd.resume, [conn_id, "--process", "images"]).exit_code == 0
    assert runner.invoke(sync_cmd.resume, [conn_id]).exit_code == 0
    with runtime.db() as session:
        row = session.get_one(Connection, conn_id)
        assert (row.paused, row.paused_processes) == (False, [])
    bad = runner.invoke(sync_cmd.pause, [conn_id, "--process", "nope"])
    assert bad.exit_code != 0
