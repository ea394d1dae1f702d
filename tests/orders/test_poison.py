"""No endless loops: an event whose every attempt kills its worker is sent again by the
sweeper under a new task id each time; its attempts are counted on the delivery row, so it
ends as one dead letter that names the cause instead of looping."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from sqlalchemy import select

from store.models import DeadLetter, EventDelivery
from tests.orders.conftest import World
from tests.orders.test_flow import one_line
from tests.support.processes import wait_until
from workers import runtime

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

CAP = 2
# Redis would give a message back only after an hour: every resend is the sweeper's, with a
# new task id. Short leases so the sweeper finds each dead run soon.
ENV = {"SPOCC_VISIBILITY_TIMEOUT": "3600", "SPOCC_ORDER_LEASE_SECONDS": "3",
       "SPOCC_ORDER_LEASE_RENEW_SECONDS": "1", "SPOCC_ATTEMPT_CAP": str(CAP)}


def delivery(world: World) -> EventDelivery:
    with runtime.db() as session:
        return session.execute(select(EventDelivery).where(
            EventDelivery.connection_id == world.conn.id)).scalar_one()


def test_an_event_that_kills_its_worker_every_time_ends_as_one_dead_letter(
        world: World, worker_factory: Any) -> None:
    from tasks.orders.sweep import sweep

    order_id = world.create_order(one_line(world, 25))
    # Every registration hangs: the attempt is still waiting when its worker is killed.
    world.faults({"kind": "hang", "delay": 120, "path": "/transaction-service/v1/orders$",
                  "methods": ["POST"]})
    world.deliver("order-registered", order_id)
    for attempt in range(1, CAP + 1):
        doomed = worker_factory(queues="orders", concurrency=1, name=f"doomed{attempt}", **ENV)
        if attempt > 1:
            time.sleep(3.5)  # the killed run's lease runs out; then the sweeper resends
            sweep.apply_async(queue="orders")
        wait_until(lambda n=attempt: delivery(world).status == "running"
                   and delivery(world).attempts == n, 60, f"attempt {attempt} running")
        os.killpg(doomed.pid, signal.SIGKILL)
    worker_factory(queues="orders", concurrency=1, name="last", **ENV)
    time.sleep(3.5)
    sweep.apply_async(queue="orders")
    wait_until(lambda: delivery(world).status == "dead", 60, "the event dead-lettered")
    with runtime.db() as session:
        letters = session.execute(select(DeadLetter).where(
            DeadLetter.connection_id == world.conn.id)).scalars().all()
    assert len(letters) == 1, [d.last_error for d in letters]
    assert f"{CAP} attempts did not succeed" in letters[0].last_error
    assert "worker lost or killed" in letters[0].last_error
    assert delivery(world).attempts == CAP
