"""Fixtures of the catalogue tests: connections with chosen processes, helpers that read the
sandboxes' ledgers and the runs' rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import Sandboxes, SpoccEnv, connection_document


def apply_connection(spocc_env: SpoccEnv, doc: dict[str, Any]) -> None:
    from store import config_store
    from store.db import session_scope
    from workers import runtime

    with session_scope(spocc_env.database_url) as session:
        config_store.apply(session, runtime.secret_box(), doc)


@pytest.fixture
def make_connection(spocc_env: SpoccEnv, db_backend: str) -> Callable[..., str]:
    """A stored connection (unique id) against the given URLs, with changes to its document."""

    def make(
        plenty_url: str = "http://127.0.0.1:9",
        spocc_url: str = "http://127.0.0.1:9",
        **changes: Any,
    ) -> str:
        conn_id = f"c-{uuid.uuid4().hex[:8]}"
        apply_connection(spocc_env, connection_document(conn_id, plenty_url, spocc_url, **changes))
        return conn_id

    return make


def only(*enabled: str, **intervals: int) -> dict[str, dict[str, Any]]:
    """A `processes` section with just these processes on."""
    from schemas.config import PROCESSES

    return {
        name: {"enabled": name in enabled, "interval_minutes": intervals.get(name)}
        for name in PROCESSES
    }


def ledger(url: str, *kinds: str) -> list[dict[str, Any]]:
    params = [("kind", k) for k in kinds]
    answer = requests.get(f"{url}/__admin/ledger", params=params, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["entries"])


def stats(url: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/__admin/stats", timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def clear_stats(url: str) -> None:
    requests.delete(f"{url}/__admin/stats", timeout=10).raise_for_status()


def writes(url: str) -> int:
    """Write calls to the API, a login not counted (it changes no data)."""
    return sum(
        r["count"]
        for r in stats(url)["routes"]
        if r["method"] not in ("GET", "HEAD", "OPTIONS")
        and not r["route"].startswith("/rest/login")
    )


@pytest.fixture
def sync_connection(
    spocc_env: SpoccEnv, sandboxes: Sandboxes, make_connection: Callable[..., str]
) -> str:
    """A connection against fresh sandboxes, with the beat schedule off (tests start runs)."""
    return str(make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only()))
