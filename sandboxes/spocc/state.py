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
            self.local_changed: dict[int, datetime] = {}  # index -> last run-time change
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
        self.local_changed[index] = moment or now()
        self.version += 1

    def mutate(self, percent: float) -> Any:
        with self.lock:
            mutation = self.catalogue.mutate(percent)
            self.version += 1
            return mutation

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
        local = self.local_changed.get(v.index)
        return v.changed_at if local is None or local < v.changed_at else local

    def _effective_changed_at(self, index: int) -> datetime:
        generated = self.catalogue.changed_at(index)
        local = self.local_changed.get(index)
        return generated if local is None or local < generated else local

    def _changed_from(self, moment: datetime) -> set[int]:
        """Every index whose effective changed-at may be >= moment (a small superset)."""
        candidates = self.catalogue.touched_since(moment)
        candidates.update(i for i, at in list(self.local_changed.items()) if at >= moment)
        return candidates

    def stock_view(self, since: datetime | None, before: datetime | None) -> StockView:
        """The variations whose stock/price changed in [since, before), in index order."""
        created = self.catalogue.created_at
        if before is not None and before <= created:
            return StockView(self.catalogue.size, included=[])
        if since is None or since <= created:
            if before is None:
                return StockView(self.catalogue.size)
            excluded = self._cached(("late", before, self.version), lambda: sorted(
                i for i in self._changed_from(before) if self._effective_changed_at(i) >= before
            ))
            return StockView(self.catalogue.size, excluded=excluded)
        included = self._cached(("window", since, before, self.version), lambda: sorted(
            i
            for i in self._changed_from(since)
            if since <= self._effective_changed_at(i)
            and (before is None or self._effective_changed_at(i) < before)
        ))
        return StockView(self.catalogue.size, included=included)

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
    """A sorted set of variation indices: everything, everything but `excluded`, or `included`."""

    def __init__(
        self, size: int, excluded: list[int] | None = None, included: list[int] | None = None
    ) -> None:
        self._size = size
        self._excluded = excluded or []
        self._excluded_set = set(self._excluded)
        self._included = included

    def __len__(self) -> int:
        if self._included is not None:
            return len(self._included)
        return self._size - len(self._excluded)

    def slice(self, start: int, stop: int) -> list[int]:
        if self._included is not None:
            return self._included[start:stop]
        stop = min(stop, len(self))
        if start >= stop:
            return []
        i = self._nth(start)
        out: list[int] = []
        while len(out) < stop - start and i < self._size:
            if i not in self._excluded_set:
                out.append(i)
            i += 1
        return out

    def _nth(self, rank: int) -> int:
        """The index at position `rank` of range(size) without the excluded indices."""
        lo, hi = rank, rank + len(self._excluded)
        while lo < hi:
            mid = (lo + hi) // 2
            if mid + 1 - bisect.bisect_right(self._excluded, mid) >= rank + 1:
                hi = mid
            else:
                lo = mid + 1
        return lo
