"""One cache of a connection's configuration, keyed by its revision: decrypted once per
revision in a process, and a `spocc config apply` takes effect at the next read, in the
workers' code paths and in a running receiver alike."""

from __future__ import annotations

import uuid
from pathlib import Path

import requests
import yaml

from store import config_store
from store.db import session_scope
from tests.conftest import connection_document
from tests.foundation.test_config import spocc
from tests.receiver.conftest import start_receiver


def _apply(spocc_env, tmp_path: Path, doc: dict) -> None:
    """Through the CLI, as an operator does (another process than the one that reads)."""
    path = tmp_path / f"{uuid.uuid4().hex}.yaml"
    path.write_text(yaml.safe_dump(doc))
    applied = spocc(spocc_env.env, "config", "apply", str(path))
    assert applied.returncode == 0, applied.stderr


def _doc(conn_id: str, token: str, interval: int) -> dict:
    return connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9",
                               webhooks={"token": token},
                               processes={"stock_delta": {"interval_minutes": interval}})


def test_a_revision_is_loaded_once_and_a_new_one_at_once(spocc_env, tmp_path):
    from tasks.catalogue.context import context
    from workers import runtime

    conn_id = f"cache-{uuid.uuid4().hex[:8]}"
    with session_scope(spocc_env.database_url) as s:
        config_store.apply(s, runtime.secret_box(), _doc(conn_id, "t" * 24, 15))
    first = runtime.connection(conn_id)
    assert runtime.connection(conn_id) is first  # same revision: not decrypted again
    assert context(conn_id).conn is first  # the catalogue reads the same cache

    _apply(spocc_env, tmp_path, _doc(conn_id, "t" * 24, 5))
    changed = runtime.connection(conn_id)
    assert changed is not first
    assert changed.processes["stock_delta"].interval_minutes == 5
    assert context(conn_id).conn is changed
    with runtime.db() as session:  # a caller's own session reads through the same cache
        assert runtime.connection(conn_id, session) is changed


def test_a_new_token_is_accepted_by_a_running_receiver_at_once(spocc_env, tmp_path):
    from workers import runtime

    conn_id = f"cache-{uuid.uuid4().hex[:8]}"
    old, new = "old-token-" + "a" * 20, "new-token-" + "b" * 20
    with session_scope(spocc_env.database_url) as s:
        config_store.apply(s, runtime.secret_box(), _doc(conn_id, old, 15))
    receiver = start_receiver(spocc_env.env, tmp_path, workers=1)
    try:
        url = receiver.hook(conn_id, "order-registered")

        def post(token: str, order_id: int) -> int:
            return requests.post(url, json={"orderId": order_id}, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}).status_code

        assert post(old, 5001) == 200  # the receiver has read (and cached) it
        # What `config apply` does, from this process: the CLI's own start-up takes longer
        # than a time-based cache would live, and would hide one.
        with session_scope(spocc_env.database_url) as s:
            config_store.apply(s, runtime.secret_box(), _doc(conn_id, new, 15))
        assert post(new, 5002) == 200
        assert post(old, 5003) == 401
    finally:
        receiver.process.stop()
