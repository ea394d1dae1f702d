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

_CLIENTS: dict[Any, tuple[PlentyOneClient, SpoccClient]] = {}
_WRITERS: dict[Any, PlentyOneClient] = {}
_POLLERS: dict[Any, SpoccClient] = {}

WRITEBACK_TASK = "spocc.orders.writeback"


def api_clients(conn: ConnectionConfig) -> tuple[PlentyOneClient, SpoccClient]:
    # One pair per process and connection settings: HTTP pools and limiters are reused.
    key = (conn.id, conn.plentyone, conn.spocc)
    pair = _CLIENTS.get(key)
    if pair is None:
        redis, budget = runtime.redis_client(), runtime.settings().call_budget
        pair = (clients.build_plentyone(conn, redis, priority=ORDERS, call_budget=budget,
                                   acquire_timeout=runtime.settings().budget_wait),
                clients.build_spocc(conn, redis, priority=ORDERS, call_budget=budget,
                                   acquire_timeout=runtime.settings().budget_wait))
        _CLIENTS[key] = pair
    return pair


def writeback_client(conn: ConnectionConfig) -> PlentyOneClient:
    """The PlentyONE client of the status write-backs: same budgets and token, its own
    circuit, so an outage of status writes never blocks the reads of a registration."""
    key = ("writeback", conn.id, conn.plentyone)
    client = _WRITERS.get(key)
    if client is None:
        client = clients.build_plentyone(conn, runtime.redis_client(), priority=ORDERS,
                                         call_budget=runtime.settings().call_budget,
                                         breaker_name="breaker:writeback",
                                         acquire_timeout=runtime.settings().budget_wait)
        _WRITERS[key] = client
    return client


def poll_client(conn: ConnectionConfig) -> SpoccClient:
    """The SPoCC client of the status poll's listing: at catalogue priority, so the orders'
    reserve of the budget stays for order events."""
    key = (conn.id, conn.spocc)
    client = _POLLERS.get(key)
    if client is None:
        client = clients.build_spocc(conn, runtime.redis_client(), priority=CATALOGUE,
                                     call_budget=runtime.settings().call_budget,
                                     acquire_timeout=runtime.settings().budget_wait)
        _POLLERS[key] = client
    return client


def enqueue(event_type: str, connection_id: str, delivery_id: int,
            countdown: float | None = None) -> None:
    """Send the event task of a delivery row (after the commit that made it due)."""
    from workers.celery_app import app

    app.send_task(EVENTS[event_type],
                  kwargs={"connection_id": connection_id, "delivery_id": delivery_id},
                  queue="orders", countdown=countdown)


def enqueue_writeback(connection_id: str, writeback_id: int,
                      countdown: float | None = None) -> None:
    from workers.celery_app import app

    app.send_task(WRITEBACK_TASK,
                  kwargs={"connection_id": connection_id, "writeback_id": writeback_id},
                  queue="orders", countdown=countdown)
