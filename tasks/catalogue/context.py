"""What a catalogue task works with: the connection's configuration (re-read every task, so
`spocc config apply` takes effect at once) and its two clients (kept per worker process
while the connection's revision is unchanged: their HTTP pools are worth keeping)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

import clients
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from store.models import Connection
from workers import runtime

_lock = threading.Lock()
_clients: dict[str, tuple[int, PlentyOneClient, SpoccClient]] = {}


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
    with runtime.db() as session:
        revision = session.execute(
            select(Connection.revision).where(Connection.id == connection_id)
        ).scalar_one()
    with _lock:
        cached = _clients.get(connection_id)
        if cached is None or cached[0] != revision:
            if cached is not None:
                cached[1].close()
                cached[2].close()
            redis = runtime.redis_client()
            cached = (
                revision,
                clients.build_plentyone(conn, redis, priority=CATALOGUE),
                clients.build_spocc(conn, redis, priority=CATALOGUE),
            )
            _clients[connection_id] = cached
    return Context(conn, cached[1], cached[2])


def forget() -> None:
    """Drop cached clients (tests that restart sandboxes on other ports)."""
    with _lock:
        for _rev, plenty, spocc in _clients.values():
            plenty.close()
            spocc.close()
        _clients.clear()
