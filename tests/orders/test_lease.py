"""The per-order lease on both databases: one conditional UPDATE decides between runs that
race for it, a renewed lease holds, an expired one is taken over, and a run that lost its
lease records nothing (fencing)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from store.order_models import OrderState
from tasks.orders import lease
from workers import runtime

TIMINGS = {"SPOCC_ORDER_LEASE_SECONDS": "2", "SPOCC_ORDER_LEASE_RENEW_SECONDS": "1"}


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, spocc_env: Any, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The settings pointed at the session's PostgreSQL database or a fresh SQLite file."""
    from store.migrate import upgrade

    url = spocc_env.database_url
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'spocc.db'}"
        upgrade(url)
    for name, value in {"SPOCC_DATABASE_URL": url, **TIMINGS}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield url
    monkeypatch.undo()
    runtime.reset()


def take(order_id: int, owner: str, seconds: float = 2.0) -> OrderState | None:
    with runtime.db() as session:
        return lease.take(session, "lease-test", order_id, owner, seconds)


def test_racing_runs_get_the_lease_once(database: str) -> None:
    order_id = uuid.uuid4().int % 10**9
    barrier = threading.Barrier(8)
    won: list[str] = []

    def contend(n: int) -> None:
        barrier.wait()
        if take(order_id, f"run-{n}", 30) is not None:
            won.append(f"run-{n}")

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with runtime.db() as session:
        rows = session.execute(select(OrderState).where(
            OrderState.connection_id == "lease-test",
            OrderState.plenty_order_id == order_id)).scalars().all()
    assert [r.lease_owner for r in rows] == won  # one state row, held by the winner


def test_a_renewed_lease_holds_and_an_abandoned_one_is_taken_over(database: str) -> None:
    order_id = uuid.uuid4().int % 10**9
    first = take(order_id, "first")
    assert first is not None
    with lease.Renewal(first.id, "first") as renewal:
        time.sleep(3.5)  # past the 2 s lease: only the renewals keep it
        assert take(order_id, "second") is None
        assert not renewal.lost
    time.sleep(2.5)  # the first run is gone (no more renewals): its lease runs out
    second = take(order_id, "second")
    assert second is not None and second.lease_owner == "second"
    with runtime.db() as session:  # the first run comes back: it records nothing
        assert lease.give_back(session, first.id, "first") is False
    renewal = lease.Renewal(first.id, "first")
    renewal.renew()
    assert renewal.lost
    with runtime.db() as session:
        assert lease.give_back(session, second.id, "second") is True
    assert take(order_id, "third") is not None
