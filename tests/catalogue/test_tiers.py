"""Urgency tiers (issue 10 item 3): a stock delta is never queued behind another process's
backlog. Its planner and units go on the catalogue queue at a higher Redis priority than
the images', so a delta asked for after an image run still runs first."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.catalogue.conftest import ledger, only
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


@pytest.mark.catalogue(variations=2500, plenty_variations=2500)
def test_back_pressure_is_the_connections_own_and_counts_only_the_units_served_no_later(
        sandboxes: Sandboxes, make_connection: Callable[..., str]) -> None:
    """Issue 10 item 2: a planner pauses while `share.queued` of its connection's units wait
    to start, whatever other connections queue; an image backlog holds back another image
    planner of the connection, not its delta's."""
    from tasks.catalogue import control
    from tasks.catalogue.planner import plan_slice
    from workers import runtime

    busy = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                           share={"queued": 3})
    other = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                            share={"queued": 100})
    with runtime.db() as session:
        images = control.start_run(session, busy, "images").id
        delta = control.start_run(session, busy, "stock_delta").id
        attributes = control.start_run(session, busy, "attributes").id
        theirs = control.start_run(session, other, "images").id

    queued: list[int] = []  # nothing consumes them: they stay pending
    assert not plan_slice(busy, images, lambda _c, _r, unit: queued.append(unit))
    # pages of 1,000 variations, units of 50: it stops after the page that filled its share
    assert 3 <= len(queued) <= 20, f"{len(queued)} image units queued, the share is 3"
    sent: list[int] = []
    plan_slice(busy, delta, lambda _c, _r, unit: sent.append(unit))
    assert sent, "the delta planned its units past the image units"
    held: list[int] = []
    assert not plan_slice(busy, attributes, lambda _c, _r, unit: held.append(unit))
    assert held == []
    # another connection's planner is not held back by this one's queued units
    mine: list[int] = []
    assert plan_slice(other, theirs, lambda _c, _r, unit: mine.append(unit))
    assert len(mine) == 50
