"""The connector's gauges, as the exporter's registry renders them: queue lengths, open dead
letters (also 0 for a connection with none), read from the real Redis and database."""

from __future__ import annotations

import uuid

from prometheus_client import generate_latest

from store import config_store, dead_letters
from store.db import session_scope
from tests.conftest import connection_document


def test_gauges_show_queue_length_and_open_dead_letters(spocc_env):
    from workers import metrics, runtime

    quiet = f"quiet-{uuid.uuid4().hex[:6]}"
    with session_scope(spocc_env.database_url) as s:
        config_store.apply(s, runtime.secret_box(),
                           connection_document(quiet, "http://127.0.0.1:9", "http://127.0.0.1:9"))
    client = runtime.redis_client()
    client.delete("catalogue")
    client.lpush("catalogue", "m1", "m2", "m3")
    with session_scope(spocc_env.database_url) as s:
        dead_letters.add(s, task_name="t", task_id="metrics-1", queue="orders",
                         connection_id="metrics-conn", args=[], kwargs={}, last_error="x",
                         attempts=1)
    registry, _ = metrics.registry()
    try:
        text = generate_latest(registry).decode()
    finally:
        client.delete("catalogue")
    assert 'celery_queue_length{queue_name="catalogue"} 3.0' in text
    assert 'celery_queue_length{queue_name="orders"}' in text
    assert 'spocc_dead_letters_open{connection="metrics-conn"} 1.0' in text
    assert f'spocc_dead_letters_open{{connection="{quiet}"}} 0.0' in text
    assert 'spocc_exporter_source_up{source="database"} 1.0' in text
    assert "# TYPE celery_queue_length gauge" in text
