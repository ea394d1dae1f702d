"""Order events through the real stack: receiver → event row → worker → SPoCC sandbox →
status back in the PlentyONE sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ON_BOTH_DATABASES
from tests.orders.conftest import World
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]


def statuses_of(world: World, order_id: int) -> list[float]:
    return [e["data"]["statusId"] for e in world.plenty_ledger("order.status_changed")
            if e["data"].get("orderId") == order_id]


def kinds_for(world: World, plenty_order_id: int) -> list[str]:
    """The SPoCC ledger's side effects of one order, in order."""
    spocc_id = next(e["data"]["spoccOrderId"] for e in world.ledger("order.registered")
                    if e["data"]["plentyOrderId"] == plenty_order_id)
    return [e["kind"] for e in world.ledger() if e["data"].get("spoccOrderId") == spocc_id
            and e["kind"].startswith("order.")]


def one_line(world: World, i: int = 0, quantity: int = 1, price: float = 200.0
             ) -> list[dict[str, Any]]:
    return [{"spoccId": world.spocc_ids(60)[i], "quantity": quantity, "price": price}]


@pytest.fixture
def orders_worker(worker_factory: Any) -> Any:
    return worker_factory(queues="orders", concurrency=2)


@ON_BOTH_DATABASES
def test_order_flows_through_every_event_and_back_as_statuses(world, orders_worker):
    order_id = world.create_order(one_line(world, 1) + one_line(world, 2, 2))
    for event in ("order-registered", "order-paid", "shipping-documents"):
        assert world.deliver(event, order_id).status_code == 200
    statuses = world.wait_settled()
    assert set(statuses.values()) == {"done"}
    assert kinds_for(world, order_id) == ["order.registered", "order.payment",
                                          "order.shipping_documents"] or \
        kinds_for(world, order_id) == ["order.registered", "order.shipping_documents",
                                       "order.payment"]
    assert statuses_of(world, order_id) == [5.1]
    state = world.state(order_id)
    assert state.registration == "done" and state.open and state.spocc_order_id


@ON_BOTH_DATABASES
def test_paid_and_shipping_documents_wait_for_registered(world, orders_worker):
    order_id = world.create_order(one_line(world, 3))
    assert world.deliver("order-paid", order_id).status_code == 200
    assert world.deliver("shipping-documents", order_id, signed=True).status_code == 200
    wait_until(lambda: set(world.delivery_statuses().values()) == {"held"}, 90,
               "paid and shipping documents to be held")
    assert world.ledger() == []
    assert world.deliver("order-registered", order_id).status_code == 200
    world.wait_settled(30)
    kinds = kinds_for(world, order_id)
    assert kinds[0] == "order.registered"
    assert sorted(kinds[1:]) == ["order.payment", "order.shipping_documents"]


def test_rejected_registration_sets_the_status_spocc_gave_a_reason_for(world, orders_worker):
    bad = dict(postalCode="00000")
    from tests.orders.conftest import BILLING

    bad_address = world.create_order(one_line(world, 4), billing={**BILLING, **bad})
    sold_out_id = world.spocc_ids(60)[5]
    world.set_stock(sold_out_id, 0)
    no_stock = world.create_order(one_line(world, 5))
    world.deliver("order-registered", bad_address)
    world.deliver("order-registered", no_stock)
    world.wait_settled()
    assert statuses_of(world, bad_address) == [6.2]
    assert statuses_of(world, no_stock) == [6.3]
    assert "bad_address" in world.state(bad_address).cause
    assert world.ledger("order.registered") == []


def test_unmapped_referrer_holds_the_order_with_its_cause(world, orders_worker):
    order_id = world.create_order(one_line(world, 6), referrer=104.02)
    world.deliver("order-registered", order_id)
    wait_until(lambda: set(world.delivery_statuses().values()) == {"held"}, 90, "held")
    state = world.state(order_id)
    assert state.registration == "held" and "referrer 104.02 is not mapped" in state.cause
    assert world.ledger() == [] and statuses_of(world, order_id) == []


def test_cancel_confirmed_is_8_8_and_refused_keeps_the_status_with_a_cause(world, orders_worker):
    cancel_ok = world.create_order(one_line(world, 7))
    cancel_late = world.create_order(one_line(world, 8))
    for order_id in (cancel_ok, cancel_late):
        world.deliver("order-registered", order_id)
    world.wait_settled()
    spocc_late = world.state(cancel_late).spocc_order_id
    world.http.post(f"{world.spocc}/__admin/orders/{spocc_late}/status", json={"status": 4},
                    timeout=10).raise_for_status()
    world.deliver("order-cancelled", cancel_ok)
    world.deliver("order-cancelled", cancel_late)
    world.wait_settled()
    assert statuses_of(world, cancel_ok) == [5.1, 8.8]
    assert statuses_of(world, cancel_late) == [5.1]
    late = world.state(cancel_late)
    assert late.cancellation == "refused" and "already being processed" in late.cause
    assert len(world.ledger("order.cancelled")) == 1


def test_return_is_registered_on_the_parent_with_the_mapped_reason(world, orders_worker):
    order_id = world.create_order(one_line(world, 9, 2))
    world.deliver("order-registered", order_id)
    world.wait_settled()
    unmapped = world.create_return(order_id, reason=3)  # PlentyONE 3 is not mapped: SPoCC 1
    world.deliver("return-registered", unmapped)
    world.wait_settled()
    [entry] = world.ledger("order.return")
    assert entry["data"]["reasonId"] == 1
    assert world.state(order_id).returns == 1
    assert 9.0 in statuses_of(world, unmapped) or world.plenty_order(unmapped)["statusId"] == 9


def test_status_poll_writes_tracking_and_shipped_status(world, orders_worker):
    from store.models import SyncRun
    from workers import runtime
    from workers.celery_app import app

    shipped = world.create_order(one_line(world, 10))
    cancelled_by_store = world.create_order(one_line(world, 11))
    untouched = world.create_order(one_line(world, 12))
    for order_id in (shipped, cancelled_by_store, untouched):
        world.deliver("order-registered", order_id)
    world.wait_settled()
    admin = f"{world.spocc}/__admin/orders"
    world.http.post(f"{admin}/{world.state(shipped).spocc_order_id}/status",
                    json={"status": 7, "trackingNumber": "TRACK-1", "carrier": "DHL"},
                    timeout=10).raise_for_status()
    world.http.post(f"{admin}/{world.state(cancelled_by_store).spocc_order_id}/status",
                    json={"status": 9}, timeout=10).raise_for_status()

    def poll(slot: str) -> tuple[int, int, int, int]:
        with runtime.db() as session:
            run = SyncRun(connection_id=world.conn.id, process="order_status", slot=slot)
            session.add(run)
            session.flush()
            run_id = run.id
        for _ in range(2):  # a twice-sent run counts once
            app.send_task("spocc.orders.status_poll", args=[world.conn.id, run_id],
                          queue="orders")

        def finished() -> bool:
            with runtime.db() as session:
                return session.get(SyncRun, run_id).status == "succeeded"

        wait_until(finished, 60, "the status poll run to finish")
        world.wait_settled()  # the status write-backs are their own step, after the outcome
        with runtime.db() as session:
            run = session.get(SyncRun, run_id)
            return run.found, run.pushed, run.unchanged, run.failed

    # Only the two orders SPoCC changed are checked; the untouched one is not asked about.
    assert poll("t-1") == (2, 2, 0, 0)
    assert statuses_of(world, shipped) == [5.1, 7.0]
    assert statuses_of(world, cancelled_by_store) == [5.1, 8.0]
    packages = world.plenty_order(shipped)["shippingPackages"]
    assert [p["packageNumber"] for p in packages] == ["TRACK-1"]
    assert world.state(shipped).open is False and world.state(untouched).open is True
    # The next poll lists from the first one's cut-off (minus a short overlap): the two are
    # closed here, so nothing is checked; then the store ships the third one.
    assert poll("t-2") == (0, 0, 0, 0)
    world.http.post(f"{admin}/{world.state(untouched).spocc_order_id}/status",
                    json={"status": 7, "trackingNumber": "TRACK-3", "carrier": "DPD"},
                    timeout=10).raise_for_status()
    assert poll("t-3") == (1, 1, 0, 0)
    assert statuses_of(world, untouched) == [5.1, 7.0]
