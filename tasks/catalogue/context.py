"""What a catalogue task works with: the connection's configuration (`runtime.connection`,
checked against its revision every task, so `spocc config apply` takes effect at once) and
its two clients (kept per worker process while that configuration is the same object, i.e.
its revision is unchanged, for the connections served most recently:
`workers/client_cache.py`)."""

from __future__ import annotations

from dataclasses import dataclass

import clients
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from workers import runtime
from workers.client_cache import ClientCache

_clients: ClientCache[tuple[PlentyOneClient, SpoccClient]] = ClientCache()


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
    plenty, spocc = _clients.get(connection_id, conn, lambda: _build(conn))
    return Context(conn, plenty, spocc)


def _build(conn: ConnectionConfig) -> tuple[PlentyOneClient, SpoccClient]:
    redis = runtime.redis_client()
    budget = runtime.settings().call_budget
    # past a short wait the task hands the worker back (workers/task_base.py)
    wait = runtime.settings().budget_wait
    return (
        clients.build_plentyone(conn, redis, priority=CATALOGUE, call_budget=budget,
                                acquire_timeout=wait),
        clients.build_spocc(conn, redis, priority=CATALOGUE, call_budget=budget,
                            acquire_timeout=wait),
    )


def forget() -> None:
    """Drop cached clients (tests that restart sandboxes on other ports)."""
    for plenty, spocc in _clients.values():
        plenty.close()
        spocc.close()
    _clients.clear()
