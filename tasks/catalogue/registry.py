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
