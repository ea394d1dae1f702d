"""Where the batched status poll starts listing: the last successful poll's cut-off, else the
oldest open order's registration; a poll whose check failed for good is not a success, so
the next one lists its window again (issue 10: status checks batched)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

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
