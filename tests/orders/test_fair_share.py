"""Fair shares of the order workers between connections (issue 10 item 2): one retailer's
burst of order events does not hold up another's registration, and a connection alone uses
every worker."""

from __future__ import annotations

import pytest

from tests.conftest import ON_BOTH_DATABASES, connection_document
from tests.orders.conftest import signed_post
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

BURST = 24
# Each registration takes SPoCC this long: the burst alone keeps two workers busy ~10 s.
SLOW = {"kind": "slow", "delay": 0.8, "path": "/transaction-service/v1/orders$",
        "methods": ["POST"]}


def _second_connection(world, **changes):
    from store import config_store
    from workers import runtime

    conn_id = f"{world.conn.id}-b"
    doc = connection_document(conn_id, world.plenty, world.spocc, **changes)
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def _registered_order(world) -> list[int]:
    return [e["data"]["plentyOrderId"] for e in world.ledger("order.registered")]


@ON_BOTH_DATABASES
def test_a_registration_of_another_connection_passes_a_burst(world, worker_factory):
    """A's burst of 24 registrations is queued before B's one: B's is applied among the
    first third (A yields the workers it holds beyond its share while B waits), not last."""
    other = _second_connection(world)
    stocked = world.spocc_ids(40)
    orders = [world.create_order([{"spoccId": stocked[i % 40], "quantity": 1, "price": 80.0}])
              for i in range(BURST + 1)]
    theirs = orders.pop()
    world.faults(SLOW)
    for order_id in orders:
        assert signed_post(world.receiver.url, world.conn.id, "order-registered", order_id,
                           False, None) == 200
    assert signed_post(world.receiver.url, other, "order-registered", theirs, False,
                       None) == 200
    worker_factory(queues="orders", concurrency=2)
    world.wait_settled(timeout=120)
    wait_until(lambda: len(_registered_order(world)) == BURST + 1, 60, "B's registration")
    sequence = _registered_order(world)
    assert sorted(sequence) == sorted([*orders, theirs])
    # FIFO put it last (25th). With shares, A runs one while B waits, and the other worker
    # defers A's queued events until it reaches B's (a few of A's finish meanwhile).
    print(f"\nB's registration applied {sequence.index(theirs) + 1} of {BURST + 1}")
    assert sequence.index(theirs) < BURST // 3, sequence.index(theirs)


@ON_BOTH_DATABASES
def test_a_connection_alone_uses_every_worker(world, worker_factory):
    """The share binds only while another connection waits: alone, a burst runs on both
    workers at once (its registrations overlap at SPoCC)."""
    _second_connection(world)  # configured, but with nothing waiting
    stocked = world.spocc_ids(40)
    orders = [world.create_order([{"spoccId": stocked[i % 40], "quantity": 1, "price": 80.0}])
              for i in range(8)]
    world.faults(SLOW)
    for order_id in orders:
        assert signed_post(world.receiver.url, world.conn.id, "order-registered", order_id,
                           False, None) == 200
    worker_factory(queues="orders", concurrency=2)
    world.wait_settled(timeout=120)
    assert max(_overlap(world.conn.id)) >= 2


def _overlap(connection_id: str) -> list[int]:
    """How many of the connection's registrations ran at once, at each one's start."""
    from datetime import timedelta

    from sqlalchemy import select

    from store.models import Attempt
    from workers import runtime

    with runtime.db() as session:
        spans = [(start, start + timedelta(milliseconds=ms or 0)) for start, ms in
                 session.execute(select(Attempt.started_at, Attempt.duration_ms).where(
                     Attempt.connection_id == connection_id, Attempt.outcome == "success",
                     Attempt.task_name == "spocc.orders.register")).all()]
    return [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
