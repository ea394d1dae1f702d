"""What every order task needs from outside: a connection's two API clients (one pair per
process), and sending a task by row id."""

from __future__ import annotations

from typing import Any

import clients
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE, ORDERS
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from schemas.webhooks import EVENTS
from workers import runtime
from workers.client_cache import ClientCache

# One of each per process and connection, while the settings it was built from hold: HTTP
# pools, limiters and breakers are reused (`workers/client_cache.py`).
_events: ClientCache[tuple[PlentyOneClient, SpoccClient]] = ClientCache()
_writeback: ClientCache[PlentyOneClient] = ClientCache()
_poll: ClientCache[SpoccClient] = ClientCache()

WRITEBACK_TASK = "spocc.orders.writeback"


def _options(priority: str) -> dict[str, Any]:
    """What every order client shares: the priority, the whole call's budget, and the
    short wait for a rate slot after which the task hands the worker back."""
    s = runtime.settings()
    return {"priority": priority, "call_budget": s.call_budget,
            "acquire_timeout": s.budget_wait}


def api_clients(conn: ConnectionConfig) -> tuple[PlentyOneClient, SpoccClient]:
    return _events.get(conn.id, (conn.plentyone, conn.spocc), lambda: (
        clients.build_plentyone(conn, runtime.redis_client(), **_options(ORDERS)),
        clients.build_spocc(conn, runtime.redis_client(), **_options(ORDERS))))


def writeback_client(conn: ConnectionConfig) -> PlentyOneClient:
    """The PlentyONE client of the status write-backs: same budgets and token, its own
    circuit, so an outage of status writes never blocks the reads of a registration."""
    return _writeback.get(conn.id, conn.plentyone, lambda: clients.build_plentyone(
        conn, runtime.redis_client(), breaker_name="breaker:writeback", **_options(ORDERS)))


def poll_client(conn: ConnectionConfig) -> SpoccClient:
    """The SPoCC client of the status poll's listing: at catalogue priority, so the orders'
    reserve of the budget stays for order events."""
    return _poll.get(conn.id, conn.spocc, lambda: clients.build_spocc(
        conn, runtime.redis_client(), **_options(CATALOGUE)))


def enqueue(event_type: str, connection_id: str, delivery_id: int,
            countdown: float | None = None) -> None:
    """Send the event task of a delivery row (after the commit that made it due)."""
    from workers.celery_app import app

    app.send_task(EVENTS[event_type],
                  kwargs={"connection_id": connection_id, "delivery_id": delivery_id},
                  queue="orders", countdown=countdown)


def enqueue_writeback(connection_id: str, writeback_id: int,
                      countdown: float | None = None, priority: int = 0) -> None:
    """Send a status write-back. An order event's goes at 0, beside the events; the status
    poll's at the checks' priority, so a burst of shipped orders never queues ahead of a
    registration."""
    from workers.celery_app import app

    app.send_task(WRITEBACK_TASK,
                  kwargs={"connection_id": connection_id, "writeback_id": writeback_id},
                  queue="orders", countdown=countdown, priority=priority)


def forget() -> None:
    """Drop cached clients (tests that change the settings they are built from)."""
    for cache in (_events, _writeback, _poll):
        cache.clear()
