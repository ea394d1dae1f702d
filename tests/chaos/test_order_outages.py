"""The chaos test's two outages of the order path (../shared/spec/reliability.md): PlentyONE
refuses every status write for a long stretch (longer than a registration's whole retry
horizon), and the connector's PostgreSQL connections are terminated again and again
(`pg_terminate_backend`) — while every webhook arrives twice and SPoCC answers 5xx. Nobody
touches anything: every event is applied at SPoCC once, in order, every order gets its 5.1
once PlentyONE is back, and there is no dead letter."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from store.db import session_scope
from store.models import DeadLetter
from tests.chaos.test_order_chaos import (
    _deliveries,
    _sweep_now,
    paid_orders,
    start_receiver,
    stocked_ids,
)
from tests.support.processes import SpoccProcess, wait_until

pytestmark = pytest.mark.slow

ORDERS = 12
# The registration's retry horizon scaled down to ~8 s (8 retries ≤ 1 s apart); the
# status writes fail for 45 s, many horizons.
TIMINGS = {"SPOCC_RETRY_BACKOFF_MAX": "1", "SPOCC_WRITEBACK_BACKOFF_MAX": "3"}
OUTAGE = 45.0


class Terminator:
    """Terminates every other PostgreSQL connection to the database, every `every` s."""

    def __init__(self, url: str, every: float = 5.0) -> None:
        self.engine = create_engine(url)
        self.every, self.killed = every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Terminator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.engine.dispose()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            with self.engine.connect() as conn:
                self.killed += int(conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )).scalar_one())


def _observe(fn: Any, *args: Any) -> Any:
    """The test's own reads meet the terminations too: read again."""
    for _ in range(10):
        try:
            return fn(*args)
        except OperationalError:
            time.sleep(0.2)
    return fn(*args)


def refuse_status_writes(plenty: str) -> None:
    """PlentyONE answers 503 to every order status write until its faults are cleared."""
    requests.post(f"{plenty}/__admin/faults", timeout=5, json={"seed": 3, "rules": [
        {"kind": "error", "status": 503, "path": r"^/rest/orders/\d+$", "methods": ["PUT"]}]})


def _statuses(plenty: str) -> dict[int, list[float]]:
    entries = requests.get(f"{plenty}/__admin/ledger", params={"kind": "order.status_changed"},
                           timeout=30).json()["entries"]
    out: dict[int, list[float]] = {}
    for e in entries:
        out.setdefault(e["data"]["orderId"], []).append(e["data"]["statusId"])
    return out


@pytest.mark.catalogue(variations=200, plenty_variations=200)
def test_orders_ride_through_a_long_plentyone_outage_and_terminated_connections(
        spocc_env: Any, sandboxes: Any, connection: Any, tmp_path: Any) -> None:
    env = {**spocc_env.env, **TIMINGS}
    url = spocc_env.database_url
    receiver = start_receiver(env, tmp_path, connection, sandboxes)
    workers: list[SpoccProcess] = []
    try:
        plenty, spocc = sandboxes.plenty_url, sandboxes.spocc_url
        refuse_status_writes(plenty)
        outage = time.monotonic()
        requests.post(f"{spocc}/__admin/faults", timeout=5, json={"seed": 5, "rules": [
            {"kind": "error", "rate": 0.15, "status": 503, "path": "/transaction-service/"}]})

        order_ids = paid_orders(plenty, stocked_ids(spocc, ORDERS * 2))
        wait_until(lambda: _deliveries(url, connection.id) == 2 * ORDERS, 60,
                   "every event accepted once (each delivered twice)")
        with Terminator(url) as terminator:
            worker = SpoccProcess(["worker", "-Q", "orders", "-c", "2", "-n", "outage-1@%h"],
                                  env, tmp_path, "worker-1").start()
            workers.append(worker)
            worker.wait_for_log("ready.", 60)
            deadline = time.monotonic() + 240
            while _observe(_deliveries, url, connection.id, "done") < 2 * ORDERS:
                assert time.monotonic() < deadline, "events not all applied"
                _observe(_sweep_now, url, connection.id, spocc_env.redis_url)
                time.sleep(3)
        assert terminator.killed > 0
        # Every event was applied while PlentyONE still refused every status write.
        assert _statuses(plenty) == {}
        while time.monotonic() - outage < OUTAGE:
            time.sleep(1)
        requests.delete(f"{plenty}/__admin/faults", timeout=5)
        requests.delete(f"{spocc}/__admin/faults", timeout=5)

        def all_written() -> bool:
            _sweep_now(url, connection.id, spocc_env.redis_url)
            return all(_statuses(plenty).get(o) == [5.1] for o in order_ids)

        wait_until(all_written, 120, "every order's 5.1 once PlentyONE is back")
        ledger = requests.get(f"{spocc}/__admin/ledger", timeout=5).json()["entries"]
        for order_id in order_ids:
            kinds = [e["kind"] for e in ledger if e["data"].get("plentyOrderId") == order_id]
            assert kinds == ["order.registered", "order.payment"], (order_id, kinds)
        with session_scope(url) as s:
            letters = s.execute(select(DeadLetter.task_name, DeadLetter.last_error).where(
                DeadLetter.connection_id == connection.id)).all()
        assert letters == [], letters
    finally:
        for w in workers:
            w.stop()
        receiver.stop()
