"""What a catalogue task works with: the connection's configuration (`runtime.connection`,
checked against its revision every task, so `spocc config apply` takes effect at once) and
its two clients (kept per worker process while that configuration is the same object, i.e.
its revision is unchanged: their HTTP pools are worth keeping)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import clients
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from workers import runtime

_lock = threading.Lock()
_clients: dict[str, tuple[ConnectionConfig, PlentyOneClient, SpoccClient]] = {}


@dataclass
class Context:
    conn: ConnectionConfig
    plenty: PlentyOneClient
    spocc: SpoccClient

    @property
    def id(self) -> str:
        return self.conn.id


def context(connection_id: str) -> Context:
    conn = runtime.connection(connection_id)
    with _lock:
        cached = _clients.get(connection_id)
        if cached is None or cached[0] is not conn:
            if cached is not None:
                cached[1].close()
                cached[2].close()
            redis = runtime.redis_client()
            budget = runtime.settings().call_budget
            # past a short wait the task hands the worker back (workers/task_base.py)
            wait = runtime.settings().budget_wait
            cached = (
                conn,
                clients.build_plentyone(conn, redis, priority=CATALOGUE, call_budget=budget,
                                        acquire_timeout=wait),
                clients.build_spocc(conn, redis, priority=CATALOGUE, call_budget=budget,
                                    acquire_timeout=wait),
            )
            _clients[connection_id] = cached
    return Context(conn, cached[1], cached[2])


def forget() -> None:
    """Drop cached clients (tests that restart sandboxes on other ports)."""
    with _lock:
        for _conn, plenty, spocc in _clients.values():
            plenty.close()
            spocc.close()
        _clients.clear()
