"""RabbitMQ as the broker (`SPOCC_BROKER_URL=amqp://…`): quorum queues, tiers as queues of
their own, countdowns kept by RabbitMQ (native delayed delivery), depth from the broker.
Each test has a virtual host of its own on the machine's RabbitMQ; Redis stays for the rest."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.infra import environ, private_rabbitmq_vhost, rabbitmq_queues
from tests.support.processes import SpoccProcess, wait_until
from workers import broker, runtime


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with private_rabbitmq_vhost() as url:
        yield url


@contextmanager
def on_rabbitmq(url: str, redis_url: str) -> Iterator[Any]:
    """This process's settings and a Celery app of its own pointed at RabbitMQ."""
    from workers.celery_app import create_app

    try:
        with environ(SPOCC_BROKER_URL=url, SPOCC_REDIS_URL=redis_url):
            runtime.reset()
            yield create_app()
    finally:
        runtime.reset()  # after the environment is back


def _worker(env: dict[str, str], tmp_path: Any, queues: str) -> SpoccProcess:
    proc = SpoccProcess(["worker", "-Q", queues, "-c", "2", "-n", f"rmq-{uuid.uuid4().hex[:6]}@%h",
                         "--loglevel", "INFO"], env, tmp_path, "worker").start()
    proc.wait_for_log("ready.", 60)
    return proc


def _runs(token: str) -> list[list[Any]]:
    return [json.loads(raw) for raw in runtime.redis_client().lrange(f"test:route:{token}", 0, -1)]


def test_a_message_goes_to_its_tier_queue_and_a_deferral_keeps_it_and_its_countdown(
    spocc_env, amqp_url, tmp_path
):
    env = {**spocc_env.env, "SPOCC_BROKER_URL": amqp_url}
    worker = _worker(env, tmp_path, "default")
    try:
        # the worker started with `-Q default` declared every queue (Celery binds them all
        # to its delayed-delivery exchange) and consumes every tier of default
        assert {f"{q}{t}" for q in ("orders", "catalogue", "default")
                for t in ("", ".p3", ".p6", ".p9")} <= set(rabbitmq_queues(amqp_url))
        assert "Failed to bind" not in worker.log() and "CRITICAL" not in worker.log()
        token = uuid.uuid4().hex
        with on_rabbitmq(amqp_url, spocc_env.redis_url) as app:
            sent = time.time()
            app.send_task("spocc.test.route", kwargs={"token": token, "holds": 2,
                                                      "countdown": 2.0},
                          priority=6, countdown=2)
        wait_until(lambda: len(_runs(token)) == 3, 60, "three runs (two deferrals)")
        runs = _runs(token)
        # every run came through default.p6 at priority 6; a countdown held it ≥ 2 s
        # (RabbitMQ's delayed queues, not a worker holding the message)
        assert [r[1].rsplit(".", 2)[-2:] for r in runs] == [["default", "p6"]] * 3, runs
        assert [r[2] for r in runs] == [6, 6, 6]
        starts = [sent] + [r[0] for r in runs]
        assert all(b - a >= 1.9 for a, b in itertools.pairwise(starts)), starts
        assert "celery_delayed_27" in rabbitmq_queues(amqp_url)
    finally:
        worker.stop()


def test_a_message_deferred_again_through_the_same_delay_queues_comes_back(
    spocc_env, amqp_url, tmp_path
):
    """RabbitMQ before 4.0.1 drops (or, dead-lettering at least once, strands) a message that
    dies in a queue its `x-death` header already names: a deferral must not carry the last
    trip's header into the next (celery#9867; bench.fairness lost units so)."""
    env = {**spocc_env.env, "SPOCC_BROKER_URL": amqp_url}
    worker = _worker(env, tmp_path, "catalogue")
    try:
        token = uuid.uuid4().hex
        # 3 s = delay levels 1 and 0, 6 s = 2 and 1, 7 s = 2, 1 and 0: every trip after the
        # first passes a delay queue an earlier one passed
        countdowns = [3.0, 6.0, 7.0, 3.0]
        with on_rabbitmq(amqp_url, spocc_env.redis_url) as app:
            app.send_task("spocc.test.route", kwargs={
                "token": token, "holds": len(countdowns), "countdown": 0.0,
                "countdowns": countdowns}, queue="catalogue", priority=3)
        wait_until(lambda: len(_runs(token)) == len(countdowns) + 1, 60,
                   f"{len(countdowns) + 1} runs ({len(countdowns)} deferrals)")
        assert all(r[1].endswith("catalogue.p3") for r in _runs(token)), _runs(token)
    finally:
        worker.stop()


def test_a_countdown_under_a_second_is_sent_and_kept(spocc_env, amqp_url, tmp_path):
    """RabbitMQ's delay levels are whole seconds and kombu refuses a countdown that truncates
    to 0 ("countdown must be a positive number"): an order event deferred for the 0.7 s left
    of a lease was dead-lettered so. A fraction is rounded up, never down."""
    env = {**spocc_env.env, "SPOCC_BROKER_URL": amqp_url}
    worker = _worker(env, tmp_path, "orders")
    try:
        token = uuid.uuid4().hex
        with on_rabbitmq(amqp_url, spocc_env.redis_url) as app:
            sent = time.time()
            app.send_task("spocc.test.route", kwargs={"token": token, "holds": 1,
                                                      "countdown": 0.4},
                          queue="orders", countdown=0.3)
        wait_until(lambda: len(_runs(token)) == 2, 30, "two runs (one deferral)")
        first, second = (r[0] for r in _runs(token))
        assert first - sent >= 0.3 and second - first >= 0.4, (sent, first, second)
    finally:
        worker.stop()


def test_depth_counts_every_tier_queue_and_up_to_a_tier(spocc_env, amqp_url, tmp_path):
    env = {**spocc_env.env, "SPOCC_BROKER_URL": amqp_url}
    # a worker declares the queues, then leaves: what is sent now waits
    _worker(env, tmp_path, "orders,catalogue,default").stop()
    with on_rabbitmq(amqp_url, spocc_env.redis_url) as app:
        assert broker.amqp()
        for priority in (0, 3, 3, 6):
            app.send_task("spocc.test.route", kwargs={"token": "x", "holds": 0,
                                                      "countdown": 0.0},
                          queue="catalogue", priority=priority)
        assert broker.depth("catalogue") == 4
        assert broker.depth("catalogue", up_to=0) == 1
        assert broker.depth("catalogue", up_to=3) == 3
        assert broker.depth("orders") == 0
        # RabbitMQ's own count (its statistics come every few seconds)
        wait_until(lambda: rabbitmq_queues(amqp_url)["catalogue.p3"] == 2, 30,
                   "two messages in catalogue.p3")


def test_the_exporter_reads_queue_lengths_from_rabbitmq(spocc_env, amqp_url, tmp_path):
    from prometheus_client import generate_latest

    from workers import metrics

    env = {**spocc_env.env, "SPOCC_BROKER_URL": amqp_url}
    _worker(env, tmp_path, "orders,catalogue,default").stop()
    with on_rabbitmq(amqp_url, spocc_env.redis_url) as app:
        for priority in (0, 6):
            app.send_task("spocc.test.route", kwargs={"token": "x", "holds": 0,
                                                      "countdown": 0.0},
                          queue="catalogue", priority=priority)
        registry, _ = metrics.registry()
        text = generate_latest(registry).decode()
    assert 'celery_queue_length{queue_name="catalogue"} 2.0' in text
    assert 'celery_queue_length{queue_name="orders"} 0.0' in text
    assert 'spocc_exporter_source_up{source="broker"} 1.0' in text
    assert "spocc_unacked_messages" not in text  # RabbitMQ's own exporter counts those


def test_depth_of_an_unreachable_broker_raises_a_broker_error(spocc_env):
    with on_rabbitmq("amqp://guest:guest@127.0.0.1:1/none", spocc_env.redis_url):
        with pytest.raises(broker.ERRORS):
            broker.depth("orders")


def test_rabbitmq_without_a_redis_url_is_refused_with_the_setting_to_set(spocc_env):
    from workers.celery_app import create_app

    try:
        with environ(SPOCC_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/",
                     SPOCC_REDIS_URL=None):
            runtime.reset()
            with pytest.raises(RuntimeError, match="SPOCC_REDIS_URL"):
                create_app()
    finally:
        runtime.reset()


@pytest.mark.parametrize("options,queue", [
    ({"priority": 3}, "orders.p3"),
    ({"queue": "catalogue", "priority": 9}, "catalogue.p9"),
    ({"queue": "catalogue", "priority": 5}, "catalogue.p3"),
    # a retry: the delivery info of a message that came through the delayed queues
    ({"exchange": "celery_delayed_delivery", "routing_key": "0." * 28 + "catalogue.p6",
      "priority": 6}, "catalogue.p6"),
    ({"exchange": "spocc", "routing_key": "default", "priority": None}, "default"),
])
def test_tiered_options(options, queue):
    out = broker.tiered(options, "orders")
    assert out["queue"] == queue
    assert "exchange" not in out and "routing_key" not in out


@pytest.mark.parametrize("countdown,sent", [(0.3, 1), (1.0, 1), (1.2, 2), (0, 0), (None, None)])
def test_a_countdown_is_whole_seconds_rounded_up(countdown, sent):
    assert broker.tiered({"countdown": countdown}, "orders")["countdown"] == sent
