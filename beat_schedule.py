"""The beat schedule: a few fixed entries; which syncs run when is decided by the tick.

`spocc.catalogue.tick` runs every minute and reads each connection's processes, intervals and
pauses from the database, so a changed schedule takes effect without restarting beat. Every
entry expires before its next run is due, so a backlog never runs a stale tick twice.
Entries name tasks, not functions: a task of another domain (orders) fails only at a worker.
"""

from __future__ import annotations

import os
from typing import Any

MINUTE = 60.0


def tick_seconds() -> float:
    """The tick's period; a minute (tests shorten it: slots stay clock-aligned regardless)."""
    return float(os.environ.get("SPOCC_CATALOGUE_TICK_SECONDS", MINUTE))


def _entry(task: str, every: float, queue: str) -> dict[str, Any]:
    return {
        "task": task,
        "schedule": every,
        "options": {"queue": queue, "expires": max(1.0, every - 5.0)},
    }


def build(orders_sweep: float = 15.0) -> dict[str, dict[str, Any]]:
    """`orders_sweep`: seconds between order sweeps (`SPOCC_ORDERS_SWEEP_SECONDS`); with the
    60 s lease it bounds how soon a killed worker's event is sent again."""
    return {
        "catalogue-tick": _entry("spocc.catalogue.tick", tick_seconds(), "default"),
        "catalogue-sweep": _entry("spocc.catalogue.sweep", tick_seconds(), "default"),
        "orders-sweep": _entry("spocc.orders.sweep", orders_sweep, "orders"),
        "maintenance-reap": _entry("spocc.maintenance.reap", 60 * MINUTE, "default"),
    }
