"""The SPoCC sandbox's own in-memory store: the catalogue plus what happened since.

The catalogue generator supplies articles, stock and prices; on top of it this keeps what
changes at run time (stock overrides set by tests, reservations of registered orders, the
orders themselves, idempotency records). One lock guards every write; reads of single dict
entries go without it (atomic under the GIL) so stock pages never wait for orders.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandboxes.catalogue import Catalogue, Variation
from sandboxes.common.ledger import Ledger
from sandboxes.spocc.params import now

REFERRERS: tuple[tuple[int, str], ...] = (
    (1, "Webshop"), (2, "Zalando"), (3, "eBay"), (4, "Amazon"), (5, "Otto"),
)
RETURN_REASONS: tuple[tuple[int, str], ...] = (
    (1, "No reason"), (2, "Too small"), (3, "Too large"), (4, "Defective"),
    (5, "Not as described"), (6, "Changed mind"), (7, "Wrong item delivered"),
)

STATUS_NAMES = {
    1: "registered", 2: "paid", 3: "released", 4: "processing",
    7: "shipped", 9: "cancelled", 18: "returned",
}


@dataclass
class Order:
    spocc_order_id: str
    plenty_order_id: int
    channel_store: int
    referrer_id: int
    currency: str
    order_date: datetime
    lines: list[dict[str, Any]]  # lineNumber, spoccId, quantity, price (str), returnedQuantity
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    reservation_id: str
    created_at: datetime
    updated_at: datetime
    status: int = 1
    reservation_released: bool = False
    payments: list[dict[str, Any]] = field(default_factory=list)
    shipping_documents: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    tracking: dict[str, Any] | None = None
    cancellation: dict[str, Any] | None = None

    def reserved_quantities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line["spoccId"]] = totals.get(line["spoccId"], 0) + line["quantity"]
        return totals


@dataclass
class IdempotencyRecord:
    fingerprint: str
    status: int | None = None  # None while the first request is still running
    body: Any = None


class SpoccState:
    def __init__(self, catalogue: Catalogue, ledger: Ledger | None = None) -> None:
        self.catalogue = catalogue
        self.ledger = ledger or Ledger()
        self.lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.catalogue.reset()
            self.on_hand_overrides: dict[tuple[int, int], int] = {}  # (index, store) -> on hand
            self.reserved: dict[tuple[int, int], int] = {}  # (index, store) -> reserved
            # index -> times of its run-time stock changes, oldest first
            self.local_changes: dict[int, list[datetime]] = {}
            self.version = 0
            self.orders: dict[str, Order] = {}
            self.orders_by_plenty_id: dict[int, str] = {}
            self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
            self._counters: dict[str, int] = {}
            self._view_cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()

    def ledger_record(self, kind: str, idempotency_key: str | None, data: dict[str, Any]) -> None:
        self.ledger.record(kind, data, idempotency_key)

    def next_id(self, prefix: str) -> str:
        with self.lock:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
            return f"{prefix}{n:08d}"

    # -- stock -------------------------------------------------------------------------

    def touch(self, index: int, moment: datetime | None = None) -> None:
        """Record a run-time change of a variation's stock (caller holds the lock)."""
        self.local_changes.setdefault(index, []).append(moment or now())
        self.version += 1

    def mutate(self, percent: float) -> Any:
        with self.lock:
            mutation = self.catalogue.mutate(percent)
            self.version += 1
            return mutation

    def mutate_images(self, percent: float) -> Any:
        with self.lock:
            return self.catalogue.mutate_images(percent)

    def set_on_hand(self, index: int, store: int, on_hand: int) -> None:
        with self.lock:
            self.on_hand_overrides[(index, store)] = on_hand
            self.touch(index)

    def stock_entries(self, v: Variation) -> list[dict[str, int]]:
        entries = []
        for store, generated in zip(self.catalogue.channel_stores, v.stock, strict=True):
            on_hand = self.on_hand_overrides.get((v.index, store), generated)
            reserved = self.reserved.get((v.index, store), 0)
            entries.append({
                "channelStore": store,
                "onHand": on_hand,
                "reserved": reserved,
                "available": max(0, on_hand - reserved),
            })
        return entries

    def available(self, index: int, store: int) -> int:
        v = self.catalogue.variation(index)
        generated = v.stock[self.catalogue.channel_stores.index(store)]
        on_hand = self.on_hand_overrides.get((index, store), generated)
        return max(0, on_hand - self.reserved.get((index, store), 0))

    def stock_changed_at(self, v: Variation) -> datetime:
        local = self.local_changes.get(v.index)
        return v.changed_at if not local or local[-1] < v.changed_at else local[-1]

    def stock_view(self, since: datetime | None, before: datetime) -> StockView:
        """Variations whose stock or prices changed at least once in [since, before).

        Computed under the lock, so no change stamped before `before` can still be on its way.
        """
        with self.lock:
            if self.catalogue.created_within(since, before):
                return StockView(self.catalogue.size)
            key = ("window", since, before, self.version)

            def compute() -> list[int]:
                touched = self.catalogue.touched_within(since, before)
                for index, times in list(self.local_changes.items()):
                    if any((since is None or t >= since) and t < before for t in times):
                        touched.add(index)
                return sorted(touched)

            return StockView(self.catalogue.size, included=self._cached(key, compute))

    def _cached(self, key: tuple[Any, ...], compute: Any) -> list[int]:
        # A delta sync asks the same (since, before) for each of its pages.
        with self._cache_lock:
            hit = self._view_cache.get(key)
            if hit is not None:
                self._view_cache.move_to_end(key)
                return hit
        value: list[int] = compute()
        with self._cache_lock:
            self._view_cache[key] = value
            while len(self._view_cache) > 16:
                self._view_cache.popitem(last=False)
        return value


class StockView:
    """A sorted set of variation indices: all of them, or those `included`."""

    def __init__(self, size: int, included: list[int] | None = None) -> None:
        self._size = size
        self._included = included

    def __len__(self) -> int:
        return self._size if self._included is None else len(self._included)

    def __contains__(self, index: int) -> bool:
        if self._included is None:
            return 0 <= index < self._size
        at = bisect.bisect_left(self._included, index)
        return at < len(self._included) and self._included[at] == index

    def slice(self, start: int, stop: int) -> list[int]:
        if self._included is not None:
            return self._included[start:stop]
        return list(range(start, min(stop, self._size)))
