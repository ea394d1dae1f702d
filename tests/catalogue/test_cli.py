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


@pytest.mark.parametrize("width", [60, 80, 160])
def test_the_progress_bar_fits_the_terminal(width: int) -> None:
    import io

    from rich.console import Console

    screen = io.StringIO()
    console = Console(file=screen, width=width, force_terminal=True, color_system=None)
    progress = sync_cmd.SyncProgress(console)
    bar = progress.add_task("syncing", total=50_000, counts="")
    counts = ("found 50000, pushed 12345, unchanged 30000, skipped 0, failed 2")
    progress.update(bar, completed=42_347, counts=counts)
    console.print(progress.get_renderable())
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert lines[0].startswith("syncing") and "42347/50000" in lines[0]
    assert len(lines[0].rstrip()) >= width - 2  # the bar takes the width there is
    assert counts in " ".join(line.strip() for line in lines[1:])
