"""The chaos test of ../shared/spec/reliability.md, for orders: the broker loses every queued
message, workers are SIGKILLed mid-task, SPoCC answers 5xx and 429, every webhook arrives
twice — and each accepted event is still applied at SPoCC exactly once, in order.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

from cli.test_mode import create_demo_order, register_event_procedures
from sandboxes.catalogue import Catalogue
from store.db import session_scope
from store.models import EventDelivery, utcnow
from tests.support.own_redis import OwnRedis
from tests.support.processes import SpoccProcess, free_port, wait_until

pytestmark = pytest.mark.slow

ORDERS = 16


def _deliveries(url: str, conn_id: str, status: str | None = None) -> int:
    with session_scope(url) as s:
        q = select(func.count()).where(EventDelivery.connection_id == conn_id)
        if status:
            q = q.where(EventDelivery.status == status)
        return int(s.execute(q).scalar_one())


def _sweep_now(url: str, conn_id: str, broker_url: str) -> None:
    """What beat's sweeper does every minute, without waiting out its grace period."""
    from workers.celery_app import app

    with session_scope(url) as s:
        s.execute(update(EventDelivery)
                  .where(EventDelivery.connection_id == conn_id, EventDelivery.status != "done")
                  .values(next_attempt_at=utcnow()))
    with app.connection_for_write(broker_url) as conn:
        app.send_task("spocc.orders.sweep", queue="orders", connection=conn)


def start_receiver(env: dict[str, str], tmp_path: Path, connection: Any, sandboxes: Any
                   ) -> SpoccProcess:
    """The receiver, with PlentyONE's event procedures calling it, every webhook twice."""
    hooks_port = free_port()
    receiver = SpoccProcess(["webhooks", "--port", str(hooks_port), "-w", "2"], env, tmp_path,
                            "receiver").start()
    receiver_url = f"http://127.0.0.1:{hooks_port}"
    wait_until(lambda: _answers(f"{receiver_url}/healthz"), 60, "the receiver")
    register_event_procedures(connection, receiver_url)
    requests.post(f"{sandboxes.plenty_url}/__admin/events/settings", json={"copies": 2},
                  timeout=5)
    return receiver


def stocked_ids(spocc: str, n: int) -> list[str]:
    """The first `n` SPoCC IDs of the catalogue, each with stock in channel store 1."""
    ids = [v.spocc_id for v in Catalogue(variations=200).variations(0, n)]
    for sid in ids:
        requests.post(f"{spocc}/__admin/stock",
                      json={"spoccId": sid, "onHand": 50, "channelStore": 1}, timeout=5)
    return ids


def paid_orders(plenty: str, ids: list[str]) -> list[int]:
    """An order of two lines per pair of ids, each paid (status 11) right after it is made."""
    order_ids = []
    for n in range(len(ids) // 2):
        made = create_demo_order(plenty, ids[2 * n: 2 * n + 2], warehouse_id=1)
        order_ids.append(int(made["id"]))
        requests.post(f"{plenty}/__admin/events/fire", timeout=5, json={
            "orderId": made["id"], "event": "status_change", "statusId": 11})
    return order_ids


@pytest.mark.catalogue(variations=200, plenty_variations=200)
def test_orders_survive_lost_queues_killed_workers_faults_and_duplicates(
    spocc_env, sandboxes, connection, tmp_path
):
    redis = OwnRedis(tmp_path)
    redis.start()
    env = {**spocc_env.env, "SPOCC_BROKER_URL": redis.url, "SPOCC_REDIS_URL": redis.url}
    receiver = start_receiver(env, tmp_path, connection, sandboxes)
    workers: list[SpoccProcess] = []
    try:
        plenty, spocc = sandboxes.plenty_url, sandboxes.spocc_url
        # Orders of variations in stock; each order's "paid" fires right after it is made.
        order_ids = paid_orders(plenty, stocked_ids(spocc, ORDERS * 2))
        url = spocc_env.database_url
        wait_until(lambda: _deliveries(url, connection.id) == 2 * ORDERS, 60,
                   "every event accepted once (each delivered twice)")

        # The broker dies with everything it held, and comes back empty.
        redis.kill()
        redis.start()

        # SPoCC misbehaves while the workers catch up.
        requests.post(f"{spocc}/__admin/faults", timeout=5, json={"seed": 7, "rules": [
            {"kind": "error", "rate": 0.2, "status": 503, "path": "/transaction-service/"},
            {"kind": "rate_limit", "rate": 0.1, "retryAfter": 1,
             "path": "/transaction-service/"},
            {"kind": "drop_after_effect", "rate": 0.1, "path": "/transaction-service/",
             "methods": ["POST"]},
        ]})
        first = SpoccProcess(["worker", "-Q", "orders", "-c", "2", "-n", "chaos-1@%h"], env,
                             tmp_path, "worker-1").start()
        workers.append(first)
        first.wait_for_log("ready.", 60)
        _sweep_now(url, connection.id, redis.url)
        wait_until(lambda: _deliveries(url, connection.id, "done") >= ORDERS // 2, 120,
                   "some events applied")
        first.kill_main()
        first.stop()
        second = SpoccProcess(["worker", "-Q", "orders", "-c", "2", "-n", "chaos-2@%h"], env,
                              tmp_path, "worker-2").start()
        workers.append(second)
        second.wait_for_log("ready.", 60)

        deadline = time.monotonic() + 240
        while _deliveries(url, connection.id, "done") < 2 * ORDERS:
            assert time.monotonic() < deadline, "events not all applied"
            _sweep_now(url, connection.id, redis.url)
            time.sleep(3)
        requests.delete(f"{spocc}/__admin/faults", timeout=5)

        # The chaos did happen: every webhook came twice, SPoCC failed calls, dropped answers.
        sent = requests.get(f"{plenty}/__admin/events/deliveries", timeout=5).json()
        assert len(sent["deliveries"]) == 4 * ORDERS
        faults = requests.get(f"{spocc}/__admin/stats", timeout=5).json()["faults"]
        assert faults.get("error", 0) > 0 and faults.get("drop_after_effect", 0) > 0, faults

        ledger = requests.get(f"{spocc}/__admin/ledger", timeout=5).json()["entries"]
        for order_id in order_ids:
            kinds = [e["kind"] for e in ledger if e["data"].get("plentyOrderId") == order_id]
            assert kinds == ["order.registered", "order.payment"], (order_id, kinds)
    finally:
        for w in workers:
            w.stop()
        receiver.stop()
        redis.kill()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
