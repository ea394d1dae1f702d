"""A run asked for by hand while the scheduled run of its process is open waits in line
(issue 10 item 3): it says for which run and how far along that one is, and starts when it
closes. Before, it was recorded as skipped and never ran."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner

from cli.main import cli
from store.models import SyncRun
from tasks.catalogue import claims, control, runs, waits
from tasks.catalogue.tasks import start
from tests.catalogue.conftest import only
from tests.catalogue.support import run_row
from tests.conftest import ON_BOTH_DATABASES, Sandboxes
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime


def _final(run_id: int, timeout: float) -> SyncRun:
    wait_until(lambda: run_row(run_id).status not in ("running", runs.QUEUED), timeout,
               f"run {run_id} to finish")
    return run_row(run_id)


@ON_BOTH_DATABASES
def test_a_manual_run_waits_for_the_scheduled_one_then_runs(
    sandboxes: Sandboxes,
    make_connection: Callable[..., str],
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    conn = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only())
    with runtime.db() as session:
        scheduled = claims.claim_slot(session, conn, "stock_full", "2026-12-02T06:00",
                                    trigger="beat")
        assert scheduled is not None
        first = scheduled.id
    start(conn, first)  # no worker yet: it stays open
    with runtime.db() as session:
        manual = control.start_run(session, conn, "stock_full")
        second, status, reason = manual.id, manual.status, manual.reason
        again = control.start_run(session, conn, "stock_full")
        assert again.status == "skipped" and f"run {second} already waits" in str(again.reason)
    assert status == runs.QUEUED, reason
    assert f"run {first}" in str(reason)
    with runtime.db() as session:
        said = waits.why(session, session.get_one(SyncRun, second))
    assert said == f"waits in line for run {first} (beat, 0 variations done, still planning)"
    shown = " ".join(CliRunner().invoke(cli, ["status", "--connection", conn]).output.split())
    assert f"run {second} (cli) waits in line behind it" in shown, shown

    worker_factory(queues="catalogue,default", concurrency=1)
    assert _final(first, 180).status == "succeeded"
    done = _final(second, 180)
    assert done.status == "succeeded", done.reason
    assert done.started_at >= run_row(first).finished_at
    assert done.found == run_row(first).found > 0
