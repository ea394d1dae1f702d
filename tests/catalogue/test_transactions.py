"""No open transaction spans an API call (issue 9, item 4): while a catalogue unit or planner
waits for PlentyONE, none of the worker's database sessions is idle in a transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.catalogue.support import run_row, start_run
from tests.conftest import Sandboxes, SpoccEnv
from tests.support.processes import SpoccProcess, wait_until

SLOW = 0.8  # seconds every PlentyONE call takes


@pytest.mark.catalogue(variations=400, plenty_variations=400)
def test_no_transaction_is_open_while_a_unit_waits_for_plentyone(
    spocc_env: SpoccEnv,
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    requests.post(
        f"{sandboxes.plenty_url}/__admin/faults",
        json={"seed": 1, "rules": [{"kind": "slow", "delay": SLOW, "path": "/rest/(items|stock)"}]},
        timeout=10,
    ).raise_for_status()
    worker_factory(queues="catalogue,default", concurrency=2)
    watcher = create_engine(spocc_env.database_url, isolation_level="AUTOCOMMIT")
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        with watcher.connect() as conn:
            database = conn.execute(text("select current_database()")).scalar_one()
            while not stop.is_set():
                rows = conn.execute(
                    text(
                        "select query from pg_stat_activity where datname = :db"
                        " and state like 'idle in transaction%'"
                        " and now() - state_change > make_interval(secs => :held)"
                    ),
                    {"db": database, "held": SLOW / 2},
                ).scalars()
                seen.extend(rows)
                time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        # a deep full run: links scanned, every variation read and written in PlentyONE
        run_id = start_run(sync_connection, "stock_full", full=True)
        wait_until(
            lambda: seen or run_row(run_id).status != "running", 240, f"run {run_id} to finish"
        )
    finally:
        stop.set()
        thread.join(timeout=10)
        watcher.dispose()
    assert seen == [], f"{len(seen)} sightings of a transaction held open, e.g. {seen[:3]}"
    run = run_row(run_id)
    assert run.status == "succeeded", run.reason
