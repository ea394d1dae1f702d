"""Issue 9's proof, every fault at once and nobody touching anything: two beats drive the
sweepers (the test never sends one), Redis is killed and comes back empty while they run,
the connector's PostgreSQL connections are terminated again and again, a worker is
SIGKILLed, PlentyONE refuses every status write for a long stretch, SPoCC answers 5xx and
drops answers after their effect, every webhook arrives twice, and a poison task hits its
hard time limit every time.

Expected: every accepted event applied at SPoCC once and in order; every order's 5.1 once
PlentyONE is back; the poison task one dead letter naming its cause; no other dead letter;
both beats still running, neither of them restarted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import or_, select

from store.db import session_scope
from store.models import DeadLetter
from tests.chaos.test_order_chaos import _deliveries, paid_orders, start_receiver, stocked_ids
from tests.chaos.test_order_outages import (
    TIMINGS,
    Terminator,
    _observe,
    _statuses,
    refuse_status_writes,
)
from tests.support.infra import private_postgres
from tests.support.own_redis import OwnRedis
from tests.support.processes import SpoccProcess, wait_until

# Its waits add up to more than the default 300 s: every fault runs its course.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ORDERS = 8
OUTAGE = 60.0  # PlentyONE's status writes fail this long (the registration's horizon: ~8 s)
CAP = "3"


@pytest.fixture
def db_backend(spocc_env: Any) -> Iterator[str]:
    """A PostgreSQL database of this test's own (the `connection` fixture stores into it):
    beat's tick schedules every connection it finds, and other tests' connections, whose
    sandboxes are gone, would keep the order workers busy with doomed status polls."""
    from store.migrate import upgrade
    from tests.conftest import _switch

    saved = spocc_env.database_url
    with private_postgres() as url:
        upgrade(url)
        _switch(spocc_env, url, "postgresql")
        try:
            yield "postgresql"
        finally:
            _switch(spocc_env, saved, "postgresql")


def _letters(url: str, connection_id: str) -> list[tuple[str, str | None, str]]:
    """This connection's letters and those of no connection (beat's tasks, the poison task).
    Other tests' connections share the database: beat's tick schedules them too, and their
    sandboxes are gone."""
    with session_scope(url) as s:
        return [tuple(r) for r in s.execute(select(
            DeadLetter.task_name, DeadLetter.connection_id, DeadLetter.last_error).where(
            or_(DeadLetter.connection_id == connection_id,
                DeadLetter.connection_id.is_(None)))).all()]


def _explained(wait: Any, plenty: str, spocc: str, url: str, connection_id: str) -> None:
    """The wait, and on a time-out what the sandboxes and the database say."""
    from store.models import EventDelivery
    from store.order_models import OrderWriteback

    try:
        wait()
    except AssertionError as exc:
        with session_scope(url) as s:
            deliveries = s.execute(select(EventDelivery.order_id, EventDelivery.event_type,
                                          EventDelivery.status, EventDelivery.last_error)
                                   .where(EventDelivery.connection_id == connection_id)).all()
            writebacks = s.execute(select(OrderWriteback.plenty_order_id, OrderWriteback.state,
                                          OrderWriteback.last_error)
                                   .where(OrderWriteback.connection_id == connection_id)).all()
        faults = {name: requests.get(f"{base}/__admin/faults", timeout=5).json()
                  for name, base in (("plentyone", plenty), ("spocc", spocc))}
        raise AssertionError(
            f"{exc}\nstatuses written: {_statuses(plenty)}\nfaults: {faults}\n"
            f"deliveries: {[tuple(d) for d in deliveries if d[2] != 'done']}\n"
            f"write-backs: {[tuple(w) for w in writebacks]}") from None


@pytest.mark.catalogue(variations=200, plenty_variations=200)
def test_every_fault_at_once_and_nobody_touches_anything(
        spocc_env: Any, sandboxes: Any, connection: Any, tmp_path: Any) -> None:
    redis = OwnRedis(tmp_path / "redis").start()
    env = {**spocc_env.env, **TIMINGS, "SPOCC_BROKER_URL": redis.url,
           "SPOCC_REDIS_URL": redis.url, "SPOCC_ORDERS_SWEEP_SECONDS": "3",
           "SPOCC_CATALOGUE_TICK_SECONDS": "5", "SPOCC_ATTEMPT_CAP": CAP}
    url = spocc_env.database_url
    before = set(_letters(url, connection.id))
    receiver = start_receiver(env, tmp_path, connection, sandboxes)
    parts: list[SpoccProcess] = []

    def start(args: list[str], name: str) -> SpoccProcess:
        proc = SpoccProcess(args, env, tmp_path, name).start()
        parts.append(proc)
        return proc

    try:
        plenty, spocc = sandboxes.plenty_url, sandboxes.spocc_url
        refuse_status_writes(plenty)
        outage = time.monotonic()
        requests.post(f"{spocc}/__admin/faults", timeout=5, json={"seed": 11, "rules": [
            {"kind": "error", "rate": 0.15, "status": 503, "path": "/transaction-service/"},
            {"kind": "drop_after_effect", "rate": 0.1, "path": "/transaction-service/",
             "methods": ["POST"]},
        ]})
        beats = [start(["beat", "--loglevel", "INFO"], f"beat-{i}") for i in range(2)]
        order_ids = paid_orders(plenty, stocked_ids(spocc, ORDERS * 2))
        wait_until(lambda: _deliveries(url, connection.id) == 2 * ORDERS, 60,
                   "every event accepted once (each delivered twice)")

        with Terminator(url, every=7.0) as terminator:
            first = start(["worker", "-Q", "orders,default", "-c", "2", "-n", "all-1@%h"],
                          "worker-1")
            first.wait_for_log("ready.", 90)
            wait_until(lambda: _observe(_deliveries, url, connection.id, "done") >= 3, 120,
                       "some events applied")
            # Redis dies with the queues, the beat lock and the budgets; comes back empty.
            redis.kill()
            time.sleep(3)
            redis.start()
            first.kill_main()
            first.stop()
            second = start(["worker", "-Q", "orders,default", "-c", "2", "-n", "all-2@%h"],
                           "worker-2")
            second.wait_for_log("ready.", 90)
            from celery import Celery

            Celery(broker=redis.url).send_task(
                "spocc.test.overrun", kwargs={"token": uuid.uuid4().hex}, queue="default")
            _explained(lambda: wait_until(
                lambda: _observe(_deliveries, url, connection.id, "done") == 2 * ORDERS,
                360, "every event applied, by beat's sweeps alone"), plenty, spocc, url,
                connection.id)
        assert terminator.killed > 0

        while time.monotonic() - outage < OUTAGE:
            time.sleep(1)
        requests.delete(f"{plenty}/__admin/faults", timeout=5)
        requests.delete(f"{spocc}/__admin/faults", timeout=5)
        _explained(lambda: wait_until(
            lambda: all(_statuses(plenty).get(o) == [5.1] for o in order_ids), 240,
            "every order's 5.1 once PlentyONE is back, by beat's sweeps alone"), plenty, spocc,
            url, connection.id)

        ledger = requests.get(f"{spocc}/__admin/ledger", timeout=5).json()["entries"]
        for order_id in order_ids:
            kinds = [e["kind"] for e in ledger if e["data"].get("plentyOrderId") == order_id]
            assert kinds == ["order.registered", "order.payment"], (order_id, kinds)
        wait_until(lambda: any(t == "spocc.test.overrun"
                               for t, _, _ in _letters(url, connection.id)),
                   120, "the poison task's dead letter")
        new = [letter for letter in _letters(url, connection.id) if letter not in before]
        [(_, _, cause)] = [x for x in new if x[0] == "spocc.test.overrun"]
        assert f"killed at the hard time limit {CAP} times" in cause
        assert [x for x in new if x[0] != "spocc.test.overrun"] == [], new
        for beat in beats:
            assert beat.proc is not None and beat.proc.poll() is None, beat.log()[-3000:]
            assert "LockNotOwnedError" not in beat.log()
    finally:
        for proc in reversed(parts):
            proc.stop()
        receiver.stop()
        redis.kill()
