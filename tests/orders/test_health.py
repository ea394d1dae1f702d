"""Nothing waits unseen: held, pending and running events are counted per connection with
the age of the oldest; an event held past its horizon becomes a dead letter that names what
it waits for and the fix; the registration's later success releases it and resolves it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import cli
from store.models import DeadLetter
from tasks.orders import health
from tests.orders.conftest import World
from tests.orders.test_flow import one_line
from tests.support.processes import wait_until
from workers import runtime

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

HORIZON = {"SPOCC_HELD_HORIZON_SECONDS": "4"}


def letters(world: World) -> list[DeadLetter]:
    with runtime.db() as session:
        return list(session.execute(select(DeadLetter).where(
            DeadLetter.connection_id == world.conn.id)).scalars())


def test_held_past_its_horizon_is_a_dead_letter_until_the_registration_succeeds(
        world: World, worker_factory: Any) -> None:
    from tasks.orders.sweep import sweep

    worker_factory(queues="orders", concurrency=2, **HORIZON)
    order_id = world.create_order(one_line(world, 24))
    world.deliver("order-paid", order_id)
    wait_until(lambda: set(world.delivery_statuses().values()) == {"held"}, 90, "held")

    counts = health.deliveries(world.conn.id)[world.conn.id]
    assert counts["held"].count == 1 and counts["held"].oldest_seconds is not None
    assert counts["pending"].count == 0 and counts["running"].count == 0
    shown = CliRunner().invoke(cli, ["status", "--connection", world.conn.id])
    assert shown.exit_code in (0, 1), shown.output
    assert "held" in shown.output and world.conn.id in shown.output

    time.sleep(4.5)  # past the (scaled-down) 72 h
    sweep.apply_async(queue="orders")
    wait_until(lambda: set(world.delivery_statuses().values()) == {"dead"}, 60,
               "the held event to become a dead letter")
    [letter] = letters(world)
    assert letter.status == "open"
    assert f"waits for the registration of order {order_id}" in letter.last_error
    assert f"spocc resync order {order_id}" in letter.last_error
    assert health.deliveries(world.conn.id)[world.conn.id]["held"].count == 0

    # The fix: the registration arrives (here by a resync); the held payment goes with it.
    resynced = CliRunner().invoke(cli, ["resync", "order", str(order_id), "--connection",
                                        world.conn.id])
    assert resynced.exit_code == 0, resynced.output
    assert set(world.wait_settled(90).values()) == {"done"}
    assert [e["kind"] for e in world.ledger()] == ["order.registered", "order.payment"]
    [letter] = letters(world)
    assert letter.status == "resolved"
