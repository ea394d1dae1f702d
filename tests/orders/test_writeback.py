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
            OrderWriteback.plenty_order_id == order_id)).scalar_one_or_none()
        return 0 if row is None else int(row.attempts)  # none before the registration


def test_a_newer_outcome_wins_over_an_unwritten_older_one(world, worker_factory):
    """5.1 (registered) is still unwritten when the order is cancelled (8.8): once PlentyONE
    answers again, only 8.8 is written; the late 5.1 never lands after it."""
    worker_factory(queues="orders", concurrency=2, **FAST_RETRIES)
    order_id = world.create_order(one_line(world, 21))
    plenty_faults(world, {"kind": "error", "status": 503, "path": STATUS_WRITES,
                          "methods": ["PUT"]})
    assert world.deliver("order-registered", order_id).status_code == 200
    wait_until(lambda: writeback_attempts(world, order_id) >= 2, 60,
               "the 5.1 write to fail twice")
    assert world.deliver("order-cancelled", order_id).status_code == 200
    wait_until(lambda: set(world.delivery_statuses().values()) == {"done"}, 60,
               "registration and cancellation applied at SPoCC during the outage")
    assert statuses_of(world, order_id) == []

    plenty_faults(world)
    wait_until(lambda: statuses_of(world, order_id) != [], 60, "a status once PlentyONE is back")
    world.wait_settled(timeout=60)
    time.sleep(3)  # a stale 5.1 message, had one been left, would have landed by now
    assert statuses_of(world, order_id) == [8.8]
    assert dead_letters(world) == 0


def test_a_write_back_failing_past_its_horizon_is_a_dead_letter_of_its_own(
        world, worker_factory):
    """Past `SPOCC_WRITEBACK_HORIZON_SECONDS` (here 6 s) the write-back is dead-lettered with
    the status, the order and the last error; the registration stays applied. A replay after
    PlentyONE recovers writes the status and resolves the letter."""
    from store.models import DeadLetter
    from workers import dlq_actions

    worker_factory(queues="orders", concurrency=2, SPOCC_WRITEBACK_HORIZON_SECONDS="6",
                   **FAST_RETRIES)
    order_id = world.create_order(one_line(world, 22))
    plenty_faults(world, {"kind": "error", "status": 503, "path": STATUS_WRITES,
                          "methods": ["PUT"]})
    assert world.deliver("order-registered", order_id).status_code == 200
    wait_until(lambda: dead_letters(world) == 1, 60, "the write-back's dead letter")
    with runtime.db() as session:
        letter = session.execute(select(DeadLetter).where(
            DeadLetter.connection_id == world.conn.id)).scalar_one()
        letter_id, subject, error = letter.id, letter.subject, letter.last_error or ""
    assert subject is not None and subject.startswith("writeback:"), subject
    assert "WritebackExpired" in error and f"PlentyONE order {order_id}" in error, error
    assert "status 5.1" in error and "503" in error, error
    # SPoCC's side is untouched: registered once, the delivery done, not failed
    assert world.delivery_statuses() and set(world.delivery_statuses().values()) == {"done"}
    assert len(world.ledger("order.registered")) == 1 and world.state(order_id).registration \
        == "done"

    plenty_faults(world)
    with runtime.db() as session:
        dlq_actions.replay_one(session, letter_id, "tests", "PlentyONE is back")
    wait_until(lambda: statuses_of(world, order_id) == [5.1], 60, "5.1 written by the replay")

    def resolved() -> bool:
        with runtime.db() as session:
            return session.get_one(DeadLetter, letter_id).status == "resolved"

    wait_until(resolved, 30, "the letter resolved by the replay's success")
