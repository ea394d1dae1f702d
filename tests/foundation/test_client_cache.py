"""A worker keeps the API clients (HTTP pools, limiters, breakers) of the connections it
serves most recently, at most `SPOCC_CLIENT_CACHE_SIZE` of them: serving 1,000 retailers
must not hold 1,000 connections' pools and sockets in every worker process, and a
`config apply` replaces a connection's clients instead of adding to them."""

from __future__ import annotations

import gc
import uuid
import weakref
from collections.abc import Iterator

import pytest

from store import config_store
from store.db import session_scope
from tests.conftest import connection_document


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    from tasks.catalogue import context
    from tasks.orders import wiring
    from workers import runtime

    monkeypatch.setenv("SPOCC_CLIENT_CACHE_SIZE", "3")
    runtime.settings.cache_clear()
    context.forget()
    wiring.forget()
    yield 3
    monkeypatch.delenv("SPOCC_CLIENT_CACHE_SIZE")
    runtime.settings.cache_clear()
    context.forget()
    wiring.forget()


def _stored(spocc_env, count: int, timeout: int = 30) -> list[str]:
    from workers import runtime

    ids = [f"clients-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    with session_scope(spocc_env.database_url) as s:
        for conn_id in ids:
            doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9")
            doc["connections"][0]["plentyone"]["timeout_seconds"] = timeout
            config_store.apply(s, runtime.secret_box(), doc)
    return ids


def _released(ref: weakref.ref) -> bool:
    gc.collect()
    return ref() is None


def test_a_catalogue_worker_lets_go_of_the_clients_of_connections_it_served_longest_ago(
        spocc_env, small_cache):
    from tasks.catalogue.context import context

    ids = _stored(spocc_env, small_cache + 2)
    first = weakref.ref(context(ids[0]).plenty)
    for conn_id in ids[1:]:
        context(conn_id)
    assert _released(first), "the first connection's clients are still held"
    newest = context(ids[-1])
    assert context(ids[-1]).plenty is newest.plenty  # the recent ones are reused


def test_an_order_worker_lets_go_of_old_clients_on_a_config_change_and_past_its_size(
        spocc_env, small_cache):
    from tasks.orders import wiring
    from workers import runtime

    (conn_id,) = _stored(spocc_env, 1)
    plenty, _spocc = wiring.api_clients(runtime.connection(conn_id))
    assert wiring.api_clients(runtime.connection(conn_id))[0] is plenty
    old = weakref.ref(plenty)
    del plenty, _spocc
    with session_scope(spocc_env.database_url) as s:
        doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9")
        doc["connections"][0]["plentyone"]["timeout_seconds"] = 45
        config_store.apply(s, runtime.secret_box(), doc)
    changed = wiring.api_clients(runtime.connection(conn_id))[0]
    assert changed.http.timeouts.read == 45
    assert _released(old), "the clients of the replaced configuration are still held"

    writeback = weakref.ref(wiring.writeback_client(runtime.connection(conn_id)))
    for other in _stored(spocc_env, small_cache + 1):
        wiring.writeback_client(runtime.connection(other))
    assert _released(writeback), "a connection served longest ago keeps its client"
