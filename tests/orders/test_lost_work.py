"""Lost work comes back in minutes: a worker SIGKILLed mid-event stops renewing its lease,
and the sweeper (beat, every 15 s) sends the event again once the lease ran out (60 s),
whatever the broker holds — here Redis would not give the message back for an hour."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.orders.conftest import World
from tests.orders.test_flow import one_line, statuses_of
from tests.support.processes import SpoccProcess, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

# Production's timings: an hour before Redis redelivers, a 60 s lease renewed every 20 s,
# the sweeper every 15 s.
PRODUCTION = {"SPOCC_VISIBILITY_TIMEOUT": "3600", "SPOCC_ORDER_LEASE_SECONDS": "60",
              "SPOCC_ORDER_LEASE_RENEW_SECONDS": "20", "SPOCC_ORDERS_SWEEP_SECONDS": "15"}
TARGET = 90.0


def test_a_killed_delivery_is_applied_within_90_seconds(
        world: World, worker_factory: Any, spocc_env: Any, tmp_path: Any) -> None:
    order_id = world.create_order(one_line(world, 23))
    world.faults({"kind": "hang", "delay": 120, "path": "/transaction-service/v1/orders$",
                  "methods": ["POST"]})
    doomed = worker_factory(queues="orders", concurrency=1, name="doomed", **PRODUCTION)
    beat = SpoccProcess(["beat", "--loglevel", "INFO"], {**spocc_env.env, **PRODUCTION},
                        tmp_path, "beat").start()
    try:
        assert world.deliver("order-registered", order_id).status_code == 200
        wait_until(lambda: set(world.delivery_statuses().values()) == {"running"}, 60,
                   "the registration to run")
        time.sleep(25)  # the lease was renewed at least once: the kill comes mid-lease
        os.killpg(doomed.pid, signal.SIGKILL)
        killed = time.monotonic()
        world.faults()
        worker_factory(queues="orders", concurrency=1, name="survivor", **PRODUCTION)
        world.wait_settled(timeout=TARGET + 30)
        applied = time.monotonic() - killed
    finally:
        beat.stop()
    print(f"\nkilled delivery applied {applied:.1f} s after the kill (target {TARGET:.0f} s)")
    assert applied <= TARGET
    assert set(world.delivery_statuses().values()) == {"done"}
    assert len(world.ledger("order.registered")) == 1
    assert statuses_of(world, order_id) == [5.1]
