"""What happens when an order may not, or cannot, go: export rules, the acceptance rule and a
person's release, a lost enqueue found by the sweeper, a dead letter replayed."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import cli
from store.models import DeadLetter, EventDelivery, utcnow
from tests.orders.test_flow import one_line, statuses_of
from tests.support.processes import wait_until
from workers import runtime

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]


@pytest.fixture
def orders_worker(worker_factory: Any) -> Any:
    return worker_factory(queues="orders", concurrency=2)


def test_blocked_referrer_is_never_exported_nor_are_its_other_events(world, orders_worker):
    world.reconfigure(rules={"block_order_referrers": [104.01]})
    order_id = world.create_order(one_line(world, 13))
    world.deliver("order-registered", order_id)
    world.deliver("order-paid", order_id)
    wait_until(lambda: sorted(world.delivery_statuses().values()) == ["blocked", "blocked"],
               90, "registration and payment blocked")
    assert world.ledger() == [] and statuses_of(world, order_id) == []
    assert "referrer 104.01" in world.state(order_id).cause


def test_acceptance_rule_holds_for_a_person_who_releases_it(world, orders_worker):
    world.reconfigure(acceptance={"enabled": True, "threshold": 0.97, "on_fail": "hold"})
    cheap = world.create_order(one_line(world, 14, price=0.5))
    world.deliver("order-registered", cheap)
    world.deliver("order-paid", cheap)
    wait_until(lambda: sorted(world.delivery_statuses().values()) == ["held", "waiting"], 90,
               "the cheap order waiting for a person")
    assert "acceptance rule" in world.state(cheap).cause and world.ledger() == []
    result = CliRunner().invoke(cli, ["orders", "release", str(cheap), "--connection",
                                      world.conn.id])
    assert result.exit_code == 0, result.output
    assert set(world.wait_settled().values()) == {"done"}
    assert [e["kind"] for e in world.ledger()][:2] == ["order.registered", "order.payment"]
    assert statuses_of(world, cheap) == [5.1]


def test_acceptance_rule_failure_sets_not_enough_stock(world, orders_worker):
    world.reconfigure(acceptance={"enabled": True})
    cheap = world.create_order(one_line(world, 15, price=0.5))
    world.deliver("order-registered", cheap)
    world.wait_settled()
    assert statuses_of(world, cheap) == [6.3] and world.ledger() == []


def test_sweeper_sends_an_event_committed_but_never_enqueued(world, orders_worker):
    from tasks.orders.sweep import sweep

    order_id = world.create_order(one_line(world, 16))
    with runtime.db() as session:  # as if the receiver died between commit and enqueue
        session.add(EventDelivery(connection_id=world.conn.id, event_type="order-registered",
                                  order_id=order_id, payload={"orderId": order_id},
                                  status="pending", next_attempt_at=utcnow()))
    sweep.apply_async(queue="orders")
    assert set(world.wait_settled(90).values()) == {"done"}
    assert len(world.ledger("order.registered")) == 1


def test_replayed_dead_registration_releases_the_held_events(world, orders_worker):
    order_id = world.create_order(one_line(world, 17))
    # SPoCC registers the order but its answer breaks the contract: a permanent error,
    # straight to a dead letter (and the replay must find the order, not register it again).
    world.faults({"kind": "corrupt", "path": "/transaction-service/v1/orders$",
                  "methods": ["POST"], "remove": ["spoccOrderId"]})
    world.deliver("order-registered", order_id)
    world.deliver("shipping-documents", order_id)
    wait_until(lambda: sorted(world.delivery_statuses().values()) == ["dead", "held"], 90,
               "a dead registration and held shipping documents")
    # 6.1 is a write-back of its own, after the dead letter
    wait_until(lambda: statuses_of(world, order_id) == [6.1], 60, "status 6.1")
    with runtime.db() as session:
        [letter] = session.execute(select(DeadLetter).where(
            DeadLetter.connection_id == world.conn.id)).scalars().all()
    world.faults()
    result = CliRunner().invoke(cli, ["dlq", "replay", str(letter.id)])
    assert result.exit_code == 0, result.output
    assert set(world.wait_settled(90).values()) == {"done"}
    assert [e["kind"] for e in world.ledger()] == ["order.registered",
                                                   "order.shipping_documents"]
    assert statuses_of(world, order_id) == [6.1, 5.1]
    with runtime.db() as session:
        assert session.get(DeadLetter, letter.id).status == "resolved"
