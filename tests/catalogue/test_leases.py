"""Lost catalogue work comes back in minutes (issue 9, item 7): a unit or planner that a worker
took holds a lease in SQL; once it runs out, the sweeper sends the work again whatever the
broker holds. Real workers, SIGKILL, and a broker that would redeliver only after an hour."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tasks.catalogue import claims, control, leases
from tests.catalogue.conftest import ledger
from tests.catalogue.support import assert_in_sync, run_row, start_run
from tests.conftest import ON_BOTH_DATABASES, Sandboxes
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime
from workers.celery_app import app

# Production leases are 60 s, renewed every 20 s, with the sweeper every minute: a unit whose
# worker died is sent again within 2 minutes of its last renewal. Scaled down here by 10.
LEASES = {
    "SPOCC_CATALOGUE_LEASE_SECONDS": "6",
    "SPOCC_CATALOGUE_LEASE_RENEW_SECONDS": "2",
    "SPOCC_CATALOGUE_PENDING_GRACE_SECONDS": "3",
    # Redis gives an unacknowledged message back only after an hour, as in production
    "SPOCC_VISIBILITY_TIMEOUT": "3600",
}
SWEEP_EVERY = 6.0  # the beat's minute, scaled


def sweeping_until_done(run_id: int, timeout: float) -> Any:
    """Send the sweeper (through the worker, as beat would) until the run is closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.send_task("spocc.catalogue.sweep", queue="default")
        wait = time.monotonic() + SWEEP_EVERY
        while time.monotonic() < wait:
            if run_row(run_id).status != "running":
                return run_row(run_id)
            time.sleep(0.2)
    raise AssertionError(f"run {run_id} still open after {timeout}s")


def slow_writes(url: str) -> None:
    requests.post(
        f"{url}/__admin/faults",
        json={
            "seed": 1,
            "rules": [
                {
                    "kind": "slow",
                    "delay": 0.3,
                    "methods": ["PUT", "POST"],
                    "path": "/rest/(stockmanagement|items/variations/variation_sales)",
                }
            ],
        },
        timeout=10,
    ).raise_for_status()


@pytest.mark.catalogue(variations=1000, plenty_variations=1000)
def test_a_unit_whose_worker_was_killed_is_resumed_from_its_lease(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    slow_writes(sandboxes.plenty_url)
    first = worker_factory(queues="catalogue,default", concurrency=2, **LEASES)
    run_id = start_run(sync_connection, "stock_full")
    wait_until(
        lambda: len(ledger(sandboxes.plenty_url, "stock.corrected")) >= 20, 60, "writes to start"
    )
    # the whole worker, children included, as a lost machine: its messages stay unacked
    os.killpg(first.pid, signal.SIGKILL)
    killed = time.monotonic()
    worker_factory(queues="catalogue,default", concurrency=2, name="second", **LEASES)
    run = sweeping_until_done(run_id, timeout=120)
    resumed_in = time.monotonic() - killed
    assert run.status == "succeeded", run.reason
    assert run.found == 1000 and run.pushed + run.unchanged == 1000
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)
    # lease (6 s) + a sweep (6 s) + the rest of the run, on a busy machine
    assert resumed_in < 90
    lost = [u for u in unit_rows(run_id) if u.lost]
    assert lost, "the killed units are counted as lost on their rows"
    # the next slot of the process starts: it is not recorded as skipped
    with runtime.db() as session:
        nxt = claims.claim_slot(session, sync_connection, "stock_full", "next-slot")
        assert nxt is not None and nxt.status == "running"
        nxt.status = "cancelled"


@ON_BOTH_DATABASES
@pytest.mark.catalogue(variations=600, plenty_variations=600)
def test_units_sent_but_lost_with_redis_are_found_from_sql(
    db_backend: str,
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.catalogue.planner import plan_slice

    monkeypatch.setattr(leases, "PENDING_GRACE", 3.0)
    with runtime.db() as session:
        run_id = control.start_run(session, sync_connection, "stock_full").id
    # the planner runs and sends its units; every message is lost (Redis restarted empty)
    while not plan_slice(sync_connection, run_id, lambda *_a: None, backlog=lambda: 0):
        pass
    assert run_row(run_id).units > 0
    worker_factory(queues="catalogue,default", concurrency=2, **LEASES)
    run = sweeping_until_done(run_id, timeout=90)
    assert run.status == "succeeded", run.reason
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)


@ON_BOTH_DATABASES
@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_a_planner_whose_message_was_lost_is_sent_again(
    db_backend: str,
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leases, "PENDING_GRACE", 3.0)
    with runtime.db() as session:
        # claimed, committed, and its planner's message never reached a worker
        run_id = control.start_run(session, sync_connection, "stock_full").id
    worker_factory(queues="catalogue,default", concurrency=2, **LEASES)
    run = sweeping_until_done(run_id, timeout=90)
    assert run.status == "succeeded", run.reason
    assert run.found == 300


def unit_rows(run_id: int) -> list[Any]:
    from sqlalchemy import select

    from store.catalogue_models import SyncUnit

    with runtime.db() as session:
        return list(session.execute(select(SyncUnit).where(SyncUnit.run_id == run_id)).scalars())
