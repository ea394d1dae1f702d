"""PlentyONE's own event procedures (the *Open URL* action, token in the URL, every call
sent twice) drive an order through every event, and the statuses come back."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.orders.operator import event_procedures
from tests.orders.conftest import TOKEN, World
from tests.orders.test_flow import one_line, statuses_of
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]


def set_status(world: World, order_id: int, status: float) -> None:
    answer = world.http.put(f"{world.plenty}/rest/orders/{order_id}", json={"statusId": status},
                            headers={"Authorization": f"Bearer {world.plenty_token()}"},
                            timeout=10)
    answer.raise_for_status()


def kinds(world: World) -> list[str]:
    return [e["kind"] for e in world.ledger() if e["kind"].startswith("order.")]


def test_event_procedures_carry_an_order_through_every_event(world, worker_factory: Any):
    worker_factory(queues="orders", concurrency=2)
    for procedure in event_procedures(world.receiver.url, world.conn.id, TOKEN):
        world.http.post(f"{world.plenty}/__admin/events/procedures",
                        json={**procedure, "copies": 2}, timeout=10).raise_for_status()
    kept = world.create_order(one_line(world, 20), fire=True)  # "new order" procedure
    cancelled = world.create_order(one_line(world, 21), fire=True)
    wait_until(lambda: statuses_of(world, kept) == [5.1] == statuses_of(world, cancelled), 60,
               "both orders handed over (5.1)")
    set_status(world, kept, 11)  # paid
    set_status(world, kept, 6)  # shipping documents
    set_status(world, cancelled, 8)
    wait_until(lambda: len(kinds(world)) == 5, 60, "payment, documents and cancellation")
    return_id = world.create_return(kept, reason=1)  # fires "new return"
    wait_until(lambda: len(world.ledger("order.return")) == 1, 90, "the return")
    world.wait_settled(60)  # SPoCC's ledger shows the return before the worker records it
    assert sorted(kinds(world)) == sorted([
        "order.registered", "order.registered", "order.payment", "order.shipping_documents",
        "order.cancelled", "order.return"])
    assert statuses_of(world, cancelled) == [5.1, 8.0, 8.8]
    assert statuses_of(world, kept)[:3] == [5.1, 11.0, 6.0]
    assert world.state(kept).returns == 1 and world.state(return_id).registration == "done"
    deliveries = world.http.get(f"{world.plenty}/__admin/events/deliveries", timeout=10).json()
    sent = deliveries if isinstance(deliveries, list) else deliveries.get("deliveries", [])
    assert len(sent) >= 12  # six events, each delivered twice
    assert set(world.delivery_statuses().values()) == {"done"}
    assert len(world.delivery_statuses()) == 6  # copies are one event each
