"""The receiver accepts an order event durably and once, and answers every bad input with a
4xx naming what is wrong."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from store.models import EventDelivery, IdempotencyKey
from tests.receiver.conftest import SIGNING_SECRET, TOKEN
from workers import runtime

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def deliveries(connection_id: str) -> list[EventDelivery]:
    with runtime.db() as session:
        return list(session.execute(
            select(EventDelivery).where(EventDelivery.connection_id == connection_id)
        ).scalars())


def queued(spocc_env: Any) -> list[tuple[str, dict[str, Any]]]:
    """(task name, kwargs) of every message waiting in the `orders` queue."""
    client = redis.Redis.from_url(spocc_env.redis_url)
    out = []
    for raw in client.lrange("orders", 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], body[1]))
    return out


def signed(body: bytes, msg_id: str = "msg_1", at: int | None = None,
           secret: str = SIGNING_SECRET) -> dict[str, str]:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json"}


def test_accepted_event_is_committed_then_enqueued_with_200(receiver, hook_connection, spocc_env):
    answer = requests.post(receiver.hook(hook_connection, "order-registered"),
                           json={"orderId": 4711}, headers=BEARER, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["orderId"] == 4711 and body["event"] == "order-registered"
    [row] = deliveries(hook_connection)
    assert row.id == body["eventId"] and row.status == "pending" and row.order_id == 4711
    assert ("spocc.orders.register", {"connection_id": hook_connection, "delivery_id": row.id}) \
        in queued(spocc_env)


def test_open_url_sender_may_put_token_and_order_id_in_the_url(receiver, hook_connection):
    answer = requests.post(receiver.hook(hook_connection, "order-paid"),
                           params={"orderId": 12, "token": TOKEN}, timeout=10)
    assert answer.status_code == 200, answer.text
    [row] = deliveries(hook_connection)
    assert (row.event_type, row.order_id) == ("order-paid", 12)


def test_same_event_twice_gets_the_first_answer_and_is_enqueued_once(
        receiver, hook_connection, spocc_env):
    url = receiver.hook(hook_connection, "order-cancelled")
    first = requests.post(url, json={"orderId": 77}, headers=BEARER, timeout=10)
    second = requests.post(url, json={"orderId": 77, "statusId": 8}, headers=BEARER, timeout=10)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(deliveries(hook_connection)) == 1
    sent = [k for t, k in queued(spocc_env) if k["connection_id"] == hook_connection]
    assert len(sent) == 1


def test_concurrent_copies_of_one_event_make_one_row(receiver, hook_connection):
    body = json.dumps({"orderId": 90}).encode()
    headers = signed(body, "msg_concurrent")
    url = receiver.hook(hook_connection, "order-paid")
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(
            lambda _: requests.post(url, data=body, headers=headers, timeout=20), range(12)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["eventId"] for a in answers}) == 1
    assert len(deliveries(hook_connection)) == 1


def test_signed_delivery_is_accepted(receiver, hook_connection):
    body = json.dumps({"orderId": 5, "event": "status_change"}).encode()
    answer = requests.post(receiver.hook(hook_connection, "shipping-documents"), data=body,
                           headers=signed(body, "msg_signed"), timeout=10)
    assert answer.status_code == 200, answer.text


def test_same_event_id_with_another_body_is_a_conflict(receiver, hook_connection):
    url = receiver.hook(hook_connection, "order-paid")
    one = json.dumps({"orderId": 6}).encode()
    two = json.dumps({"orderId": 7}).encode()
    assert requests.post(url, data=one, headers=signed(one, "msg_x"), timeout=10).status_code \
        == 200
    answer = requests.post(url, data=two, headers=signed(two, "msg_x"), timeout=10)
    assert answer.status_code == 409
    assert len(deliveries(hook_connection)) == 1


@pytest.mark.parametrize("case", ["no credentials", "wrong token", "wrong query token",
                                  "forged signature", "stale signature", "other secret"])
def test_unauthenticated_delivery_is_401_and_stores_nothing(receiver, hook_connection, case):
    body = json.dumps({"orderId": 8}).encode()
    url = receiver.hook(hook_connection, "order-registered")
    headers: dict[str, str] = {"Content-Type": "application/json"}
    params = {}
    if case == "wrong token":
        headers["Authorization"] = "Bearer not-the-token-at-all"
    elif case == "wrong query token":
        params = {"token": "not-the-token-at-all"}
    elif case == "forged signature":
        headers = signed(body, "msg_f")
        body = json.dumps({"orderId": 9}).encode()
    elif case == "stale signature":
        headers = signed(body, "msg_s", at=int(time.time()) - 600)
    elif case == "other secret":
        headers = signed(body, "msg_o", secret="whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==")
    answer = requests.post(url, data=body, headers=headers, params=params, timeout=10)
    assert answer.status_code == 401, answer.text
    assert deliveries(hook_connection) == []
    with runtime.db() as session:
        keys = session.execute(select(func.count()).where(
            IdempotencyKey.connection_id == hook_connection)).scalar_one()
    assert keys == 0


@pytest.mark.parametrize(("data", "content_type", "status", "names"), [
    (b'{"orderId": ', "application/json", 400, "JSON"),
    (b'{"orderId": "abc"}', "application/json", 422, "orderId"),
    (b'{"orderId": -3}', "application/json", 422, "orderId"),
    (b'{"statusId": 5}', "application/json", 422, "orderId"),
    (b'{"orderId": 3, "statusId": "x"}', "application/json", 422, "statusId"),
    (b'[1, 2]', "application/json", 422, "object"),
    (b'orderId=3', "application/x-www-form-urlencoded", 415, "application/json"),
    (b"\xff\xfe", "application/json", 400, "JSON"),
    (b'{"orderId": 3, "pad": "' + b"x" * 70_000 + b'"}', "application/json", 413, "larger"),
])
def test_bad_input_is_a_4xx_naming_what_is_wrong(receiver, hook_connection, data,
                                                 content_type, status, names):
    answer = requests.post(receiver.hook(hook_connection, "order-paid"), data=data,
                           headers={**BEARER, "Content-Type": content_type}, timeout=10)
    assert answer.status_code == status, answer.text
    assert names in answer.json()["message"]
    assert deliveries(hook_connection) == []


def test_unknown_connection_or_event_is_404(receiver, hook_connection):
    assert requests.post(receiver.hook("no-such-connection", "order-paid"), json={"orderId": 1},
                         headers=BEARER, timeout=10).status_code == 404
    answer = requests.post(receiver.hook(hook_connection, "order-exploded"), json={"orderId": 1},
                           headers=BEARER, timeout=10)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("application/json")


def test_health_readiness_and_openapi_are_served(receiver):
    assert requests.get(f"{receiver.url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{receiver.url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    spec = requests.get(f"{receiver.url}/openapi.json", timeout=5).json()
    post = spec["paths"]["/hooks/{connection_id}/{event}"]["post"]
    assert "200" in post["responses"] and "422" in post["responses"]
    assert "202" not in post["responses"]  # PlentyONE resends anything but a 200
    # orderId in the body or the query, one of the two: neither alone is required
    assert "required" not in spec["components"]["schemas"]["WebhookEvent"]
    assert "one of the two is required" in post["description"]
    [query_id] = [p for p in post["parameters"] if p["name"] == "orderId"]
    assert query_id["in"] == "query" and query_id["schema"]["pattern"] == "^[1-9][0-9]{0,18}$"


def test_tokens_never_reach_any_log(receiver, hook_connection):
    url = receiver.hook(hook_connection, "order-paid")
    requests.post(url, params={"orderId": 31, "token": TOKEN}, timeout=10)
    requests.post(url, params={"orderId": 32, "token": "wrong-token-aaaaaaaaaaaa"}, timeout=10)
    requests.post(url, json={"orderId": 33}, headers=BEARER, timeout=10)
    requests.post(url, json={"orderId": 34},
                  headers={"Authorization": "Bearer wrong-token-bbbbbbbbbbbbb"}, timeout=10)
    time.sleep(0.5)  # gunicorn writes its access log after the answer
    log = receiver.process.log()
    assert "POST /hooks/" in log  # the access log is on
    for secret in (TOKEN, "wrong-token-aaaaaaaaaaaa", "wrong-token-bbbbbbbbbbbbb"):
        assert secret not in log


def test_connections_the_database_dropped_cost_no_request(receiver, hook_connection):
    """PostgreSQL restarted, or an operator's pg_terminate_backend: every connection the
    receiver's workers hold in their pools is dead. The next requests still get 200 (the
    receiver takes fresh connections itself; the sender never sees a 503 for it)."""
    from sqlalchemy import text

    url = receiver.hook(hook_connection, "order-registered")
    for order in range(20):  # every gunicorn worker holds a pooled connection
        assert requests.post(url, json={"orderId": 6100 + order}, headers=BEARER,
                             timeout=10).status_code == 200
    with runtime.db() as session:
        dropped = session.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    assert dropped >= 2
    answers = [requests.post(url, json={"orderId": 6200 + order}, headers=BEARER, timeout=10)
               for order in range(20)]
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert len(deliveries(hook_connection)) == 40


def test_every_accepted_event_reaches_the_event_stream_as_task_sent(
        receiver, hook_connection, spocc_env):
    """The receiver batches its task-sent events (receiver/sent_events.py): Flower and the
    exporter still see one per enqueued task, within a second or so."""
    import threading

    from workers.celery_app import app

    seen: dict[str, dict[str, Any]] = {}
    stop = threading.Event()

    def on_sent(event: dict[str, Any]) -> None:
        if hook_connection in str(event.get("kwargs")):
            seen[event["uuid"]] = event

    def capture() -> None:
        with app.connection_for_read() as connection:
            stream = app.events.Receiver(connection, handlers={"task-sent": on_sent})
            for _ in stream.itercapture(limit=None, timeout=None, wakeup=False):
                if stop.is_set():
                    break

    threading.Thread(target=capture, daemon=True).start()
    url = receiver.hook(hook_connection, "order-registered")
    try:
        # Pub/sub keeps nothing for a late subscriber: warm up until ours is listening.
        probe = 9_000
        deadline = time.monotonic() + 30
        while not seen:
            assert time.monotonic() < deadline, "no task-sent event reached the stream"
            probe += 1
            requests.post(url, json={"orderId": probe}, headers=BEARER, timeout=10)
            time.sleep(0.3)
        time.sleep(1.5)
        before = set(seen)
        ids = [requests.post(url, json={"orderId": 4_000 + i}, headers=BEARER,
                             timeout=10).json()["eventId"] for i in range(10)]
        wait_until_sent = time.monotonic() + 10
        while time.monotonic() < wait_until_sent:
            fresh = [e for k, e in seen.items() if k not in before]
            if len(fresh) >= 10:
                break
            time.sleep(0.1)
    finally:
        stop.set()
    fresh = [e for k, e in seen.items() if k not in before]
    assert sorted(int(str(e["kwargs"]).split("'delivery_id': ")[1].rstrip("}"))
                  for e in fresh) == sorted(ids)
    assert {e["name"] for e in fresh} == {"spocc.orders.register"}
    assert {e["queue"] for e in fresh} == {"orders"}
