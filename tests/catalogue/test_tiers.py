"""Urgency tiers (issue 10 item 3): a stock delta is never queued behind another process's
backlog. Its planner and units go on the catalogue queue at a higher Redis priority than
the images', so a delta asked for after an image run still runs first."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.catalogue.conftest import ledger
from tests.catalogue.support import start_run, wait_run
from tests.conftest import Sandboxes
from tests.support.processes import SpoccProcess

STOCK_WRITES = ("stock.corrected", "price.set")
IMAGE_WRITES = ("image.uploaded", "image.linked")


@pytest.mark.catalogue(variations=600, plenty_variations=600)
def test_a_delta_asked_for_after_an_image_run_writes_before_any_image(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    requests.post(f"{sandboxes.spocc_url}/__admin/catalogue/mutate",
                  json={"percent": 10, "kind": "stock"}, timeout=10).raise_for_status()
    # Both runs are queued before a worker listens: FIFO would run every image unit first.
    images = start_run(sync_connection, "images")
    delta = start_run(sync_connection, "stock_delta")
    worker_factory(queues="catalogue,default", concurrency=1)

    assert wait_run(delta, 180).status == "succeeded"
    assert wait_run(images, 300).status == "succeeded"
    stock = [e["seq"] for e in ledger(sandboxes.plenty_url, *STOCK_WRITES)]
    pictures = [e["seq"] for e in ledger(sandboxes.plenty_url, *IMAGE_WRITES)]
    assert stock and pictures
    assert max(stock) < min(pictures), (
        f"{sum(s > min(pictures) for s in stock)} of {len(stock)} stock writes came after "
        "the first image write")


@pytest.mark.catalogue(variations=600, plenty_variations=600)
def test_back_pressure_counts_only_the_units_served_no_later(
        sandboxes: Sandboxes, sync_connection: str) -> None:
    """A full queue of image units holds back another image planner, not a delta's."""
    from tasks.catalogue import control
    from tasks.catalogue.planner import BACKLOG, plan_slice
    from tasks.catalogue.registry import CATALOGUE_QUEUE, tier
    from workers import queues, runtime

    client = runtime.redis_client()
    images_list = queues.keys(CATALOGUE_QUEUE)[queues.PRIORITY_STEPS.index(tier("images"))]
    client.lpush(images_list, *[b"queued image unit"] * (BACKLOG + 1))
    try:
        with runtime.db() as session:
            delta = control.start_run(session, sync_connection, "stock_delta").id
            images = control.start_run(session, sync_connection, "images").id
        sent: list[int] = []
        assert plan_slice(sync_connection, delta, lambda _c, _r, unit: sent.append(unit))
        assert sent, "the delta planned its units"
        held: list[int] = []
        assert not plan_slice(sync_connection, images, lambda _c, _r, unit: held.append(unit))
        assert held == []
    finally:
        client.delete(images_list)
