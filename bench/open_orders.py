"""`bench.order_latency --under-poll`: many orders open and the status poll running.

The open orders are seeded directly, as if registered long ago: each is an order in the
PlentyONE sandbox, registered at the SPoCC sandbox through the connector's own clients and
body rules, and an open `order_states` row. Then SPoCC ships every one of them, so the poll
lists them all and queues one status check each: the worst case for a new registration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _pool_map(work: Callable[[int], Any], items: Sequence[int], threads: int = 8) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def seed_open_orders(conn_id: str, plenty_url: str, spocc_url: str, order_ids: list[int]
                     ) -> None:
    """Register `order_ids` (PlentyONE orders) at SPoCC, record them as open, then have SPoCC
    ship them all (tracking number, carrier)."""
    import clients
    from clients.ratelimit import ORDERS, LimiterSettings
    from store.models import utcnow
    from store.order_models import DONE, OrderState
    from tasks.orders import rules
    from tasks.orders.register import ORDER_RELATIONS as WITH
    from tasks.orders.wiring import api_clients
    from workers import runtime

    conn = runtime.connection(conn_id)
    plenty, _ = api_clients(conn)
    # The seeded orders were registered long ago: the calls that seed them belong to past
    # windows of SPoCC's budget (1,200 a minute), not to the one the measured registrations
    # share with the poll, so they are counted under a budget of their own.
    spocc = clients.build_spocc(conn, runtime.redis_client(), priority=ORDERS,
                                key_prefix=f"bench-seed:{time.time()}:",
                                limits=LimiterSettings(default_limit=10_000_000))

    def register(order_id: int) -> str:
        body = rules.registration(plenty.order(order_id, with_=WITH), conn)
        answer = spocc.register_order(body, idempotency_key=f"seed-{conn_id}-{order_id}")
        return str(answer["spoccOrderId"])

    started = time.perf_counter()
    spocc_ids = _pool_map(register, order_ids)
    now = utcnow()
    with runtime.db() as session:
        for chunk in _chunks(range(len(order_ids)), 1000):
            session.add_all([OrderState(
                connection_id=conn_id, plenty_order_id=order_ids[i], spocc_order_id=spocc_ids[i],
                registration=DONE, open=True, spocc_status=1, created_at=now, updated_at=now)
                for i in chunk])
            session.flush()
    http = requests.Session()

    def ship(i: int) -> None:
        http.post(f"{spocc_url}/__admin/orders/{spocc_ids[i]}/status",
                  json={"status": 7, "trackingNumber": f"T{order_ids[i]}", "carrier": "DHL"},
                  timeout=30).raise_for_status()

    _pool_map(ship, list(range(len(order_ids))))
    print(f"    seeded {len(order_ids):,} open orders, all shipped at SPoCC, in "
          f"{time.perf_counter() - started:.0f} s")


def start_poll(conn_id: str) -> int:
    """A status poll run, sent as beat's tick sends it; its id."""
    from store.models import SyncRun
    from workers import runtime
    from workers.celery_app import app

    with runtime.db() as session:
        run = SyncRun(connection_id=conn_id, process="order_status", slot=f"bench-{time.time()}")
        session.add(run)
        session.flush()
        run_id = run.id
    app.send_task("spocc.orders.status_poll", args=[conn_id, run_id], queue="orders")
    return run_id


def listed(run_id: int) -> int:
    """How many orders the poll has listed (and queued a check for) so far."""
    from store.models import SyncRun
    from workers import runtime

    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        return run.found if run is not None else 0


def poll_progress(run_id: int) -> str:
    from store.models import SyncRun
    from workers import queues, runtime

    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        waiting = queues.depth(runtime.redis_client(), "orders")
        return (f"poll {run.status}: {run.found:,} listed, {run.pushed:,} checked, "
                f"{waiting:,} messages waiting on orders")
