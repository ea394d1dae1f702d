"""JSON logs follow one order: its ids are on the receiver's line, on every line of its task
and on the client's call to SPoCC. A secret canary (the connection's webhook token, sent in
the query string as PlentyONE may) appears in no log and nowhere in Flower's task API."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.orders.conftest import STOCKED, World
from tests.receiver.conftest import start_receiver
from tests.support.processes import SpoccProcess, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.catalogue(variations=60, plenty_variations=60)]

CANARY = "canary-Jm2q-token-never-logged"
FLOWER_AUTH = ("ops", "flower-test-password")


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def test_one_orders_ids_run_from_the_receiver_through_the_task_to_the_client(
        spocc_env, connection, sandboxes, tmp_path):
    env = {**spocc_env.env, "SPOCC_LOG_FORMAT": "json",
           "SPOCC_FLOWER_AUTH": ":".join(FLOWER_AUTH)}
    receiver = start_receiver(env, tmp_path, "receiver-json", workers=1)
    worker = SpoccProcess(["worker", "-Q", "orders", "-c", "1", "-n", "json@%h",
                           "--loglevel", "DEBUG"], env, tmp_path, "worker-json").start()
    flower_port = free_port()
    flower = SpoccProcess(["flower", "--port", str(flower_port)], env, tmp_path,
                          "flower").start()
    try:
        with requests.Session() as http:
            world = World(connection, sandboxes, receiver, http)
            world.reconfigure(webhooks={"token": CANARY})
            for spocc_id in world.spocc_ids(2):
                world.set_stock(spocc_id, 1000)
            worker.wait_for_log("ready.", timeout=60)
            order_id = world.create_order(
                [{"spoccId": world.spocc_ids(STOCKED)[0], "quantity": 1, "price": 120.0}])
            answer = http.post(receiver.hook(connection.id, "order-registered"),
                               params={"token": CANARY}, json={"orderId": order_id}, timeout=10)
            assert answer.ok, answer.text
            delivery = answer.json()["eventId"]
            assert world.wait_settled(90)[delivery] == "done"

            # The receiver's line names the connection, the order and the delivery.
            accepted = [r for r in json_lines(receiver.process.log())
                        if r.get("logger") == "spocc.receiver" and r.get("order") == order_id]
            assert accepted, receiver.process.log()[-3000:]
            assert accepted[0]["connection"] == connection.id
            assert accepted[0]["delivery"] == delivery
            assert {"time", "level", "message"} <= set(accepted[0])

            # Every line of its task carries the same ids and the task's own id, down to
            # the client's call to SPoCC.
            def task_lines() -> list[dict[str, Any]]:
                return [r for r in json_lines(worker.log()) if r.get("delivery") == delivery]

            wait_until(lambda: any("succeeded" in r["message"] for r in task_lines()), 30,
                       "Celery's succeeded line of the task")
            lines = task_lines()
            assert {r["order"] for r in lines if "order" in r} == {order_id}
            assert {r["connection"] for r in lines} == {connection.id}
            assert {r["task_name"] for r in lines} == {"spocc.orders.register"}
            task_ids = {r["task"] for r in lines}
            assert len(task_ids) == 1
            [task_id] = task_ids
            calls = [r for r in lines if r["logger"] == "clients.http"
                     and r["message"].startswith("spocc-transaction-service POST ")
                     and r.get("order") == order_id]
            assert calls, [r["message"] for r in lines]

            # Flower saw the task (so its API is the real one), and no secret in it.
            def flower_tasks() -> str:
                try:
                    return requests.get(f"http://127.0.0.1:{flower_port}/api/tasks",
                                        auth=FLOWER_AUTH, timeout=5).text
                except requests.RequestException:
                    return ""

            wait_until(lambda: task_id in flower_tasks(), 60, "the task in Flower's API")
            assert CANARY not in flower_tasks()
            for proc in (receiver.process, worker, flower):
                assert CANARY not in proc.log(), proc.log_path.name
    finally:
        flower.stop()
        worker.stop()
        receiver.process.stop()
