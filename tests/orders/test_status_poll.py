"""Where the batched status poll starts listing: the last successful poll's cut-off, else the
oldest open order's registration; a poll whose check failed for good is not a success, so
the next one lists its window again (issue 10: status checks batched)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from store import purge
from store.models import SyncRun
from store.order_models import OrderState
from tasks.orders.status_poll import count, since
from tests.conftest import ON_BOTH_DATABASES
from workers import runtime


@pytest.fixture
def conn_id(spocc_env: Any, db_backend: str) -> Iterator[str]:
    cid = f"sp-{uuid.uuid4().hex[:8]}"
    yield cid
    with runtime.db() as session:
        purge.delete_rows(session, [cid])


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def _run(cid: str, slot: str, status: str, cutoff: str, started: datetime,
         found: int = 0) -> int:
    with runtime.db() as session:
        run = SyncRun(connection_id=cid, process="order_status", slot=slot, status=status,
                      cutoff=cutoff, started_at=started, found=found)
        session.add(run)
        session.flush()
        return run.id


@ON_BOTH_DATABASES
def test_the_listing_starts_at_the_last_successful_cut_off(conn_id: str) -> None:
    with runtime.db() as session:
        assert since(session, conn_id) is None  # nothing open, nothing polled: no listing
        session.add(OrderState(connection_id=conn_id, plenty_order_id=1, open=True,
                               spocc_order_id="SO1", created_at=at(8, 0)))
    with runtime.db() as session:
        assert since(session, conn_id) == "2026-12-01T07:58:00.000000Z"  # oldest open order
    _run(conn_id, "a", "succeeded", "2026-12-01T10:00:00.000000Z", at(10))
    with runtime.db() as session:
        assert since(session, conn_id) == "2026-12-01T09:58:00.000000Z"


@ON_BOTH_DATABASES
def test_a_failed_check_fails_the_poll_and_its_window_is_listed_again(conn_id: str) -> None:
    _run(conn_id, "a", "succeeded", "2026-12-01T10:00:00.000000Z", at(10))
    second = _run(conn_id, "b", "running", "2026-12-01T10:20:00.000000Z",
                  at(10, 20), found=2)
    count(conn_id, second, 11, "pushed")
    count(conn_id, second, 12, "failed")
    count(conn_id, second, 12, "failed")  # a unit counted twice counts once
    with runtime.db() as session:
        run = session.get(SyncRun, second)
        assert (run.status, run.pushed, run.failed) == ("failed", 1, 1)
        assert since(session, conn_id) == "2026-12-01T09:58:00.000000Z"
    third = _run(conn_id, "c", "running", "2026-12-01T10:40:00.000000Z",
                 at(10, 40), found=1)
    count(conn_id, third, 12, "pushed")
    with runtime.db() as session:
        assert session.get(SyncRun, third).status == "succeeded"
        assert since(session, conn_id) == "2026-12-01T10:38:00.000000Z"


@ON_BOTH_DATABASES
def test_the_polls_write_back_waits_in_the_checks_tier_behind_order_events(
        conn_id: str) -> None:
    """Issue 10 item 3: what the poll found is written back to PlentyONE at the checks'
    priority, so a burst of shipped orders never queues ahead of a registration (sent at 0)."""
    from store import config_store
    from store.order_models import OrderWriteback
    from tasks.orders.status_poll import CHECKS, _record
    from tests.conftest import connection_document
    from workers import queues

    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(),
                           connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9"))
        state = OrderState(connection_id=conn_id, plenty_order_id=41, open=True,
                           spocc_order_id="SO41", lease_owner="poll-1",
                           lease_until=datetime(2100, 1, 1, tzinfo=UTC))
        session.add(state)
    conn = runtime.connection(conn_id)
    assert _record(conn, state, "poll-1", {"status": 7, "trackingNumber": "T41",
                                           "carrier": "DHL"}) == "pushed"
    with runtime.db() as session:
        writeback_id = session.execute(select(OrderWriteback.id).where(
            OrderWriteback.connection_id == conn_id)).scalar_one()
    client = runtime.redis_client()
    try:
        where = {key: [m for m in client.lrange(key, 0, -1)
                       if (queues.call_of(m) or ([], {}))[1].get("writeback_id") == writeback_id]
                 for key in queues.keys("orders")}
        for key in where:
            for message in where[key]:
                client.lrem(key, 0, message)
    finally:
        client.close()
    step = queues.keys("orders")[queues.PRIORITY_STEPS.index(CHECKS)]
    assert {k: len(v) for k, v in where.items() if v} == {step: 1}
