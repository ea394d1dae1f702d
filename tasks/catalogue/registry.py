"""The catalogue processes by name, and the task each scheduled process starts."""

from __future__ import annotations

from tasks.catalogue.attributes import Attributes
from tasks.catalogue.content import ExtendedData, Images
from tasks.catalogue.item_import import ItemImport
from tasks.catalogue.process import Process
from tasks.catalogue.stock import StockProcess

CATALOGUE_QUEUE = "catalogue"

PROCESSES: dict[str, Process] = {
    "attributes": Attributes(),
    "item_import": ItemImport(),
    "extended_data": ExtendedData(),
    "images": Images(),
    "stock_full": StockProcess("stock_full", full=True),
    "stock_delta": StockProcess("stock_delta", full=False),
}

# Urgency within the catalogue queue, as a Redis message priority (0 is served first, see
# workers/queues.py): stale stock and prices cost sales, an image can wait an hour. A delta's
# planner and units pass every queued unit of a full run or of images.
TIERS: dict[str, int] = {
    "stock_delta": 0,
    "stock_full": 3,
    "images": 6,
    "extended_data": 6,
    "attributes": 6,
    "item_import": 6,
    # on the orders queue, behind the order events (sent at 0)
    "order_status": 3,
}


def tier(process: str) -> int:
    return TIERS.get(process, 6)


# Processes that list only what changed since the last successful run (with an overlap).
DELTA = {"stock_delta", "images"}


def register(process: Process) -> None:
    PROCESSES[process.name] = process


def planner_name(process: str) -> str:
    return f"spocc.catalogue.{process}"


# process → (task name, queue). Order status belongs to the orders domain: same machinery
# (slot claimed, run row), its own task, signature (connection_id, run_id).
EXTERNAL: dict[str, tuple[str, str]] = {"order_status": ("spocc.orders.status_poll", "orders")}


def task_for(process: str) -> tuple[str, str]:
    return EXTERNAL.get(process) or (planner_name(process), CATALOGUE_QUEUE)
