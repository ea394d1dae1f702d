"""Item import, attributes, extended data and images end to end, through the ledgers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import select

from store.models import SyncRun
from tests.catalogue.conftest import ledger
from tests.catalogue.support import assert_in_sync, plenty_state, spocc_stock, start_run, wait_run
from tests.conftest import Sandboxes
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime


@pytest.mark.catalogue(variations=200, plenty_variations=60)
def test_item_import_creates_missing_variations_inactive_once(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    plenty = sandboxes.plenty_url
    run = wait_run(start_run(sync_connection, "item_import"))
    assert run.status == "succeeded", run.reason
    assert run.failed == 0
    created = ledger(plenty, "variation.created")
    # the first 60 were there already (matched by their SPoCC-ID barcode)
    seeded = 60
    assert len(created) == 200 - seeded
    assert len({e["data"]["number"] for e in created}) == len(created)
    state = plenty_state(plenty)
    spocc_ids = set(spocc_stock(sandboxes.spocc_url))
    assert spocc_ids <= set(state)
    new = {e["data"]["number"] for e in created}
    assert all(state[n]["isActive"] is False for n in new)
    barcodes = {
        (e["data"]["barcodeId"], e["data"]["code"]) for e in ledger(plenty, "barcode.created")
    }
    assert all((2, n) in barcodes for n in new)

    again = wait_run(start_run(sync_connection, "item_import"))
    assert again.status == "succeeded"
    assert (again.pushed, again.unchanged) == (0, again.found)
    assert len(ledger(plenty, "variation.created", "item.created")) == len(
        ledger(plenty, "variation.created")
    ) + len(ledger(plenty, "item.created"))
    assert len(ledger(plenty, "variation.created")) == 200 - seeded

    # the import that created variations started a stock run for them at once
    follow_up = resync_run(sync_connection)
    assert follow_up.status == "succeeded", follow_up.reason
    assert follow_up.found == 200 and follow_up.skipped == 0
    assert_in_sync(sandboxes.spocc_url, plenty)


def resync_run(conn_id: str) -> SyncRun:
    def find() -> SyncRun | None:
        with runtime.db() as session:
            return session.execute(
                select(SyncRun).where(
                    SyncRun.connection_id == conn_id,
                    SyncRun.process == "stock_full",
                    SyncRun.trigger == "resync",
                )
            ).scalar_one_or_none()

    wait_until(lambda: find() is not None, 90, "the follow-up stock run")
    run = find()
    assert run is not None
    return wait_run(run.id)


@pytest.mark.catalogue(variations=80, plenty_variations=80)
def test_images_uploaded_once_and_only_changed_ones_again(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    plenty = sandboxes.plenty_url
    first = wait_run(start_run(sync_connection, "images"))
    assert first.status == "succeeded", first.reason
    uploads = ledger(plenty, "image.uploaded")
    assert uploads
    # one upload per colour and position, however many sizes share it
    assert set(Counter(e["data"]["uploadUrl"] for e in uploads).values()) == {1}
    linked = ledger(plenty, "image.linked")
    assert len({(e["data"]["variationId"], e["data"]["imageId"]) for e in linked}) == len(linked)

    rerun = wait_run(start_run(sync_connection, "images", full=True))
    assert (rerun.pushed, rerun.unchanged) == (0, 80)
    assert len(ledger(plenty, "image.uploaded")) == len(uploads)

    requests.post(
        f"{sandboxes.spocc_url}/__admin/catalogue/mutate",
        json={"percent": 20, "kind": "images"},
        timeout=10,
    ).raise_for_status()
    changed = wait_run(start_run(sync_connection, "images"))
    assert changed.status == "succeeded"
    assert 0 < changed.pushed < 80
    assert len(ledger(plenty, "image.uploaded")) > len(uploads)


@pytest.mark.catalogue(variations=40, plenty_variations=40)
def test_attributes_and_extended_data_for_tagged_variations(
    sandboxes: Sandboxes,
    sync_connection: str,
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    worker_factory(queues="catalogue,default", concurrency=2)
    plenty = sandboxes.plenty_url
    attrs = wait_run(start_run(sync_connection, "attributes"))
    assert attrs.status == "succeeded" and attrs.pushed > 0
    assert ledger(plenty, "attribute.created") or ledger(plenty, "attribute_value.created")
    again = wait_run(start_run(sync_connection, "attributes"))
    assert again.pushed == 0 and again.unchanged == attrs.pushed

    # tag three variations with the configured tag (1)
    token = requests.post(
        f"{plenty}/rest/login",
        json={"username": "spocc-demo", "password": "demo-password"},
        timeout=10,
    ).json()["access_token"]
    state = plenty_state(plenty)
    tagged = sorted(state)[:3]
    for number in tagged:
        requests.post(
            f"{plenty}/rest/tags/relationships",
            headers={"Authorization": f"Bearer {token}"},
            json={"tagId": 1, "tagType": "variation", "relationshipValue": state[number]["id"]},
            timeout=10,
        ).raise_for_status()
    run = wait_run(start_run(sync_connection, "extended_data"))
    assert run.status == "succeeded", run.reason
    assert run.found == 3 and run.pushed == 3
    props = {e["data"]["variationId"] for e in ledger(plenty, "property.set")}
    assert props <= {state[n]["id"] for n in tagged}
    assert wait_run(start_run(sync_connection, "extended_data")).unchanged == 3
