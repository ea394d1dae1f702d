"""The metrics Flower lacks: queue depth and the durable failures."""

from __future__ import annotations

from store import dead_letters
from store.db import session_scope


def test_metrics_show_queue_depth_and_open_dead_letters(spocc_env):
    from workers import metrics, runtime

    client = runtime.redis_client()
    client.delete("catalogue")
    client.lpush("catalogue", "m1", "m2", "m3")
    with session_scope(spocc_env.database_url) as s:
        dead_letters.add(s, task_name="t", task_id="metrics-1", queue="orders",
                         connection_id="metrics-conn", args=[], kwargs={}, last_error="x",
                         attempts=1)
    try:
        text = metrics.render()
    finally:
        client.delete("catalogue")
    assert 'spocc_queue_depth{queue="catalogue"} 3' in text
    assert 'spocc_queue_depth{queue="orders"}' in text
    assert 'spocc_dead_letters_open{connection="metrics-conn"} 1' in text
    assert "# TYPE spocc_queue_depth gauge" in text


def test_receiver_serves_the_metrics(spocc_env):
    from receiver.app import create_app

    answer = create_app().test_client().get("/metrics")
    assert answer.status_code == 200
    assert "spocc_queue_depth" in answer.get_data(as_text=True)
