"""One idempotency key, one body (docs/spocc-api.md §5): a call whose answer was lost is
retried with the body first sent under its key, even after the order was edited in
PlentyONE; SPoCC's `idempotency_key_reused` after a lost answer means "already applied"."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from schemas.secret import Secret
from store.order_models import SpoccRequest
from tests.conftest import DEMO_CONNECTION, ON_BOTH_DATABASES
from tests.orders.conftest import World
from tests.orders.test_flow import one_line
from tests.support.processes import wait_until
from workers import runtime

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

RETURNS = r"^/transaction-service/v1/orders/[^/]+/returns$"


def with_return_reasons(world: World) -> None:
    mappings = yaml.safe_load(DEMO_CONNECTION.read_text())["connections"][0]["mappings"]
    mappings["return_reasons"] = [{"plenty_reason_id": r, "spocc_reason_id": r}
                                  for r in (1, 2, 3)]
    world.reconfigure(mappings=mappings)


def set_return_reason(world: World, return_id: int, reason: int) -> None:
    """An edit of the return order in PlentyONE: its reason (property 35) changes."""
    token = world.plenty_token()
    world.http.put(f"{world.plenty}/rest/orders/{return_id}",
                   json={"properties": [{"typeId": 35, "value": str(reason)}]},
                   headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()


def stored_bodies(world: World) -> list[bytes]:
    with runtime.db() as session:
        return list(session.execute(select(SpoccRequest.ciphertext).where(
            SpoccRequest.connection_id == world.conn.id)).scalars())


@ON_BOTH_DATABASES
def test_lost_answer_then_an_edit_of_the_order_resends_the_first_body(
        world: World, worker_factory: Any) -> None:
    with_return_reasons(world)
    worker_factory(queues="orders", concurrency=2, SPOCC_RETRY_BACKOFF_MAX="2")
    order_id = world.create_order(one_line(world, 21, 2))
    world.deliver("order-registered", order_id)
    world.wait_settled()
    return_id = world.create_return(order_id, reason=2)
    # SPoCC books the return and the answer is lost; the retries meet 503s while the
    # return's reason is edited in PlentyONE.
    world.faults({"kind": "drop_after_effect", "path": RETURNS, "methods": ["POST"],
                  "times": 1},
                 {"kind": "error", "status": 503, "path": RETURNS, "methods": ["POST"]})
    world.deliver("return-registered", return_id)
    wait_until(lambda: len(world.ledger("order.return")) == 1, 60, "SPoCC to book the return")
    set_return_reason(world, return_id, 3)
    # The attempt that lost the answer gives up (its own retries kept the body it built);
    # the next attempt is the one that must not send another body under the key.
    wait_until(lambda: "failed" in world.delivery_statuses().values(), 60,
               "the attempt that lost the answer to fail")
    world.faults()
    statuses = world.wait_settled(90)
    assert set(statuses.values()) == {"done"}, (statuses, _why_dead(world))
    [entry] = world.ledger("order.return")
    assert entry["data"]["reasonId"] == 2  # the body SPoCC applied, not the edited one
    assert world.state(order_id).returns == 1
    # The stored body is encrypted: no name, reason or id of the order in clear.
    assert stored_bodies(world)
    assert all(b"plentyReturnOrderId" not in b and b"Lovelace" not in b
               for b in stored_bodies(world))


def test_key_reused_after_a_lost_answer_is_looked_up_not_failed(
        world: World, worker_factory: Any) -> None:
    """The retry's body differs from the one SPoCC applied (say a body stored before an
    upgrade): SPoCC's 409 reused means the payment is there, and the order's payments say
    so: the event is done, not dead."""
    worker_factory(queues="orders", concurrency=2, SPOCC_RETRY_BACKOFF_MAX="2")
    order_id = world.create_order(one_line(world, 22))
    world.deliver("order-registered", order_id)
    world.wait_settled()
    world.faults({"kind": "drop_after_effect", "path": r"/payments$", "methods": ["POST"],
                  "times": 1},
                 {"kind": "error", "status": 503, "path": r"/payments$", "methods": ["POST"]})
    world.deliver("order-paid", order_id)
    wait_until(lambda: len(world.ledger("order.payment")) == 1, 60, "SPoCC to book it")
    box = runtime.secret_box()
    with runtime.db() as session:
        [row] = session.execute(select(SpoccRequest).where(
            SpoccRequest.connection_id == world.conn.id,
            SpoccRequest.idempotency_key.like("%:payment:%"))).scalars().all()
        body = json.loads(box.decrypt(row.ciphertext).reveal())
        row.ciphertext = box.encrypt(Secret(json.dumps({**body, "method": "invoice"})))
    wait_until(lambda: "failed" in world.delivery_statuses().values(), 60,
               "the attempt that lost the answer to fail")
    world.faults()
    statuses = world.wait_settled(90)
    assert set(statuses.values()) == {"done"}, (statuses, _why_dead(world))
    assert len(world.ledger("order.payment")) == 1
    assert world.state(order_id).payment == "done"


def _why_dead(world: World) -> list[str]:
    from store.models import DeadLetter, EventDelivery

    with runtime.db() as session:
        return [*session.execute(select(DeadLetter.last_error).where(
            DeadLetter.connection_id == world.conn.id)).scalars(),
            *(str(x) for x in session.execute(select(EventDelivery.last_error).where(
                EventDelivery.connection_id == world.conn.id)).scalars())]
