"""A PlentyONE outage never fails a registration SPoCC applied: the status write-back is its
own durable step, retried past the registration's whole retry horizon, written once PlentyONE
answers again; the newest outcome wins."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from store.models import DeadLetter
from tests.conftest import ON_BOTH_DATABASES
from tests.orders.conftest import World
from tests.orders.test_flow import one_line, statuses_of
from tests.support.processes import wait_until
from workers import runtime

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

# The registration's whole retry horizon, scaled down: 8 retries of at most 1 s each.
FAST_RETRIES = {"SPOCC_RETRY_BACKOFF_MAX": "1", "SPOCC_WRITEBACK_BACKOFF_MAX": "2"}
STATUS_WRITES = r"^/rest/orders/\d+$"


def plenty_faults(world: World, *rules: dict[str, Any]) -> None:
    world.http.post(f"{world.plenty}/__admin/faults", json={"seed": 1, "rules": list(rules)},
                    timeout=10).raise_for_status()


def dead_letters(world: World) -> int:
    with runtime.db() as session:
        return int(session.execute(select(func.count()).where(
            DeadLetter.connection_id == world.conn.id)).scalar_one())


@ON_BOTH_DATABASES
def test_plentyone_outage_longer_than_the_retry_horizon_never_fails_the_registration(
        world, worker_factory):
    worker_factory(queues="orders", concurrency=2, **FAST_RETRIES)
    order_id = world.create_order(one_line(world, 20))
    plenty_faults(world, {"kind": "error", "status": 503, "path": STATUS_WRITES,
                          "methods": ["PUT"]})
    outage = time.monotonic()
    for event in ("order-registered", "order-paid", "shipping-documents"):
        assert world.deliver(event, order_id).status_code == 200

    # SPoCC's side goes through while PlentyONE refuses every status write.
    wait_until(lambda: set(world.delivery_statuses().values()) == {"done"}, 60,
               "registration, payment and shipping documents applied during the outage")
    assert next(e["kind"] for e in world.ledger()) == "order.registered"
    assert sorted(e["kind"] for e in world.ledger()) == [
        "order.payment", "order.registered", "order.shipping_documents"]
    assert world.state(order_id).registration == "done"

    # The outage outlasts the registration's retry horizon (8 retries, ≤ 1 s apart) many
    # times over; the write-back keeps trying and nothing is dead-lettered.
    while time.monotonic() - outage < 25:
        time.sleep(1)
    assert statuses_of(world, order_id) == []
    assert dead_letters(world) == 0
    assert writeback_attempts(world, order_id) >= 3

    plenty_faults(world)
    wait_until(lambda: statuses_of(world, order_id) == [5.1], 60, "5.1 once PlentyONE is back")
    assert len(world.ledger("order.registered")) == 1
    assert dead_letters(world) == 0
    assert set(world.delivery_statuses().values()) == {"done"}


def writeback_attempts(world: World, order_id: int) -> int:
    from store.order_models import OrderWriteback

    with runtime.db() as session:
        row = session.execute(select(OrderWriteback).where(
            OrderWriteback.connection_id == world.conn.id,
            OrderWriteback.plenty_order_id == order_id)).scalar_one()
        return int(row.attempts)
