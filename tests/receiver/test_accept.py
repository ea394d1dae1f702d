"""One accept path on both databases (issue 9 item 16c): the key is claimed first, so a
duplicate writes nothing, and copies racing for one key make one event row."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from receiver.accept import Outcome, accept, idempotency_key, request_fingerprint
from store.db import get_engine
from store.models import EventDelivery, IdempotencyKey
from tests.foundation.conftest import any_db_url  # noqa: F401 - the fixture, on both DBs


def _accept(url: str, order_id: int, conn: str, body: bytes = b"") -> Outcome:
    return accept(get_engine(url), connection_id=conn, event="order-paid", order_id=order_id,
                  payload={"orderId": order_id}, key=idempotency_key("order-paid", order_id,
                                                                    None),
                  fingerprint=request_fingerprint("order-paid", order_id, None, body))


def _count(url: str, model: type[EventDelivery] | type[IdempotencyKey], conn: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model).where(
            model.connection_id == conn)).scalar_one())


@pytest.fixture
def conn() -> str:
    return f"acc-{uuid.uuid4().hex[:8]}"


def test_a_duplicate_writes_nothing_and_gets_the_first_answer(any_db_url, conn):  # noqa: F811
    first = _accept(any_db_url, 501, conn)
    again = _accept(any_db_url, 501, conn)
    after = _accept(any_db_url, 502, conn)
    assert first.status == again.status == after.status == 200
    assert again.body == first.body and again.replayed
    assert again.delivery_id is None
    # no row was inserted and removed for the duplicate: the ids have no gap
    assert first.delivery_id is not None
    assert after.delivery_id == first.delivery_id + 1
    assert _count(any_db_url, EventDelivery, conn) == 2 == _count(any_db_url, IdempotencyKey, conn)
    with get_engine(any_db_url).connect() as connection:
        row = connection.execute(select(EventDelivery.idempotency_key_id, EventDelivery.status)
                                 .where(EventDelivery.connection_id == conn)
                                 .where(EventDelivery.order_id == 501)).one()
    assert row.idempotency_key_id is not None and row.status == "pending"


def test_copies_racing_for_one_key_make_one_row(any_db_url, conn):  # noqa: F811
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _accept(any_db_url, 777, conn), range(16)))
    assert {o.status for o in outcomes} == {200}
    assert len([o for o in outcomes if o.delivery_id is not None]) == 1
    assert len({o.body["eventId"] for o in outcomes}) == 1
    assert _count(any_db_url, EventDelivery, conn) == 1


def test_same_key_with_another_request_is_a_conflict(any_db_url, conn):  # noqa: F811
    url = any_db_url
    engine = get_engine(url)
    made = accept(engine, connection_id=conn, event="order-paid", order_id=9,
                  payload={"orderId": 9}, key="id:msg_1", fingerprint="a" * 64)
    other = accept(engine, connection_id=conn, event="order-paid", order_id=10,
                   payload={"orderId": 10}, key="id:msg_1", fingerprint="b" * 64)
    assert made.status == 200 and other.status == 409 and other.delivery_id is None
    assert _count(url, EventDelivery, conn) == 1
