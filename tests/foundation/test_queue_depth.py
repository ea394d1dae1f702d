"""A queue's depth counts every priority step: kombu keeps one Redis list per step, and a
count of the plain list alone missed every image unit (priority 6) and every full-run unit."""

from __future__ import annotations

from typing import Any

import redis

from tests.support.infra import private_redis_db, redis_url
from workers import queues


def test_our_keys_are_the_ones_kombu_writes(spocc_env: Any) -> None:
    from workers.celery_app import app

    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        assert [channel._q_for_pri("catalogue", p) for p in queues.PRIORITY_STEPS] == \
            queues.keys("catalogue")


def test_depth_is_the_sum_over_the_steps() -> None:
    with private_redis_db() as db:
        client = redis.Redis.from_url(redis_url(db))
        for n, key in enumerate(queues.keys("catalogue"), start=1):
            client.lpush(key, *[b"m"] * n)
        client.lpush("orders", b"m")
        assert queues.depth(client, "catalogue") == 1 + 2 + 3 + 4
        assert queues.depth(client, "orders") == 1
        client.close()


def test_depth_up_to_a_priority_counts_what_is_served_no_later() -> None:
    with private_redis_db() as db:
        client = redis.Redis.from_url(redis_url(db))
        for n, key in enumerate(queues.keys("catalogue"), start=1):
            client.lpush(key, *[b"m"] * n)
        assert queues.depth(client, "catalogue", up_to=0) == 1
        assert queues.depth(client, "catalogue", up_to=3) == 1 + 2
        assert queues.depth(client, "catalogue", up_to=6) == 1 + 2 + 3
        client.close()
