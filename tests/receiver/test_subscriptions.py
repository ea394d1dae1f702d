"""PlentyONE webhook subscriptions at the receiver (issue 9 item 15): one endpoint per
connection, the signature of the payload id checked, the event type routed to our events,
each payload recorded once however often it is resent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from sandboxes.plentyone import webhook_format as sender_format
from store.models import IdempotencyKey
from tests.receiver.conftest import SIGN_KEY
from tests.receiver.test_receiver import deliveries, queued
from workers import runtime


def delivery(event: str, order_id: int, *, payload_id: str | None = None,
             key: str = SIGN_KEY, **data: Any) -> tuple[bytes, dict[str, str]]:
    """A delivery made by the sandbox's own format module (the sender's side)."""
    pid = payload_id or str(uuid.uuid4())
    order = {"id": order_id, "typeId": data.pop("typeId", 1),
             "statusId": data.pop("statusId", 5.0), "referrerId": 104.01, "plentyId": 1000}
    body = sender_format.payload(pid, event, order, data.pop("status", None),
                                 data.pop("previous", None))
    return body, sender_format.headers(key, pid)


def post(receiver: Any, conn: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{receiver.url}/hooks/{conn}", data=body, headers=headers,
                         timeout=10)


@pytest.mark.parametrize(("event", "extra", "ours"), [
    ("order.created", {}, "order-registered"),
    ("order.created", {"typeId": 3}, "return-registered"),
    ("order.status_changed", {"status": 11, "previous": 5}, "order-paid"),
    ("order.status_changed", {"status": 6.0}, "shipping-documents"),
    ("order.status_changed", {"status": 8}, "order-cancelled"),
])
def test_a_signed_delivery_is_routed_by_its_event_type(receiver, hook_connection, spocc_env,
                                                      event, extra, ours):
    body, headers = delivery(event, 4711, **extra)
    answer = post(receiver, hook_connection, body, headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["event"] == ours and answer.json()["status"] == "accepted"
    [row] = deliveries(hook_connection)
    assert (row.event_type, row.order_id) == (ours, 4711)
    assert row.payload["payloadId"] == json.loads(body)["id"]
    assert any(k == {"connection_id": hook_connection, "delivery_id": row.id}
               for _, k in queued(spocc_env))


def test_an_event_the_connector_does_not_act_on_is_a_200_storing_nothing(receiver,
                                                                         hook_connection):
    body, headers = delivery("order.status_changed", 12, status=5.1)
    answer = post(receiver, hook_connection, body, headers)
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert "5.1" in answer.json()["reason"]
    body, headers = delivery("order.deleted", 12)
    assert post(receiver, hook_connection, body, headers).json()["status"] == "ignored"
    assert deliveries(hook_connection) == []


def test_every_resend_of_a_payload_gets_the_first_answer_and_one_row(receiver,
                                                                    hook_connection):
    body, headers = delivery("order.created", 31)
    answers = [post(receiver, hook_connection, body, headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["eventId"] for a in answers}) == 1
    assert answers[-1].headers.get("Idempotent-Replayed") == "true"
    assert len(deliveries(hook_connection)) == 1


def test_a_payload_id_reused_for_another_body_is_a_conflict(receiver, hook_connection):
    body, headers = delivery("order.created", 32, payload_id="p-1")
    other, _ = delivery("order.created", 33, payload_id="p-1")
    assert post(receiver, hook_connection, body, headers).status_code == 200
    assert post(receiver, hook_connection, other, headers).status_code == 409
    assert len(deliveries(hook_connection)) == 1


@pytest.mark.parametrize("case", ["no signature", "other key", "signature of another id"])
def test_a_delivery_without_the_right_signature_is_401_storing_nothing(receiver,
                                                                       hook_connection, case):
    body, headers = delivery("order.created", 40)
    if case == "no signature":
        del headers[sender_format.SIGNATURE_HEADER]
    elif case == "other key":
        body, headers = delivery("order.created", 40, key="not-the-sign-key-at-all")
    else:
        headers[sender_format.SIGNATURE_HEADER] = sender_format.signature(SIGN_KEY, "other")
    answer = post(receiver, hook_connection, body, headers)
    assert answer.status_code == 401, answer.text
    assert deliveries(hook_connection) == []
    with runtime.db() as session:
        assert session.execute(select(func.count()).where(
            IdempotencyKey.connection_id == hook_connection)).scalar_one() == 0


def test_a_connection_without_a_sign_key_refuses_subscriptions(receiver, spocc_env):
    from store import config_store
    from tests.conftest import connection_document

    conn_id = f"n-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9",
                              webhooks={"token": "a-token-of-sixteen-chars"})
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    body, headers = delivery("order.created", 41)
    answer = post(receiver, conn_id, body, headers)
    assert answer.status_code == 401 and "sign key" in answer.json()["message"]


@pytest.mark.parametrize(("change", "field"), [
    ({"id": 5}, "id"), ({"data": {"orderId": 1.0}}, "orderId"),
    ({"data": {"orderId": "7"}}, "orderId"), ({"data": {"orderId": 7, "statusId": "8"}},
                                              "statusId"),
    ({"event": None}, "event"),
])
def test_a_malformed_payload_is_a_422_naming_the_field(receiver, hook_connection, change,
                                                      field):
    document = {"id": "p-bad", "event": "order.created", "data": {"orderId": 7}} | change
    pid = document["id"] if isinstance(document["id"], str) else "p-bad"
    answer = post(receiver, hook_connection, json.dumps(document).encode(),
                  sender_format.headers(SIGN_KEY, pid))
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]
    assert deliveries(hook_connection) == []
