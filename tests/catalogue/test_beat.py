"""Beat starts syncs on its own: a real `spocc beat` and worker, the tick claims the slot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from store.models import SyncRun
from tests.catalogue.conftest import only
from tests.catalogue.support import assert_in_sync
from tests.conftest import Sandboxes, SpoccEnv
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime


@pytest.mark.catalogue(variations=200, plenty_variations=200)
def test_beat_runs_the_scheduled_stock_sync_once_per_slot(
    spocc_env: SpoccEnv,
    sandboxes: Sandboxes,
    make_connection: Callable[..., str],
    worker_factory: Callable[..., SpoccProcess],
    tmp_path: Path,
) -> None:
    conn_id = make_connection(
        sandboxes.plenty_url, sandboxes.spocc_url, processes=only("stock_full")
    )
    worker_factory(queues="catalogue,default", concurrency=2)
    env = {**spocc_env.env, "SPOCC_CATALOGUE_TICK_SECONDS": "3"}
    beats = [
        SpoccProcess(["beat", "--loglevel", "INFO"], env, tmp_path, f"beat-{i}")
        for i in range(2)
    ]
    try:
        for beat in beats:
            beat.start()

        def runs() -> list[SyncRun]:
            with runtime.db() as session:
                return list(
                    session.execute(
                        select(SyncRun).where(SyncRun.connection_id == conn_id)
                    ).scalars()
                )

        wait_until(
            lambda: any(r.status == "succeeded" for r in runs()),
            90,
            "beat's stock_full run to succeed",
        )
    finally:
        for beat in beats:
            beat.stop()
    rows = runs()
    assert len(rows) == 1 and rows[0].trigger == "beat" and rows[0].slot.endswith("/1440m")
    assert_in_sync(sandboxes.spocc_url, sandboxes.plenty_url)
