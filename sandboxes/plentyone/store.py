"""The PlentyONE sandbox's own in-memory state, guarded by one re-entrant lock.

Routes take `store.lock` for every read-modify-write so concurrent workers see the same
serialised behaviour a database would give them. Records are plain dicts in the shape
the API answers with; timestamps are kept as epoch floats next to them for filtering.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]


def iso(ts: float) -> str:
    """PlentyONE writes W3C timestamps with an offset, e.g. 2026-11-23T19:30:00+00:00."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


@dataclass
class Session:
    session_id: int
    username: str
    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float

    def is_live(self, now: float) -> bool:
        return self.refresh_expires_at > now or self.access_expires_at > now


@dataclass
class Store:
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    # authentication
    sessions: dict[int, Session] = field(default_factory=dict)

    # lookups
    warehouses: dict[int, Record] = field(default_factory=dict)
    sales_prices: dict[int, Record] = field(default_factory=dict)
    barcode_types: dict[int, Record] = field(default_factory=dict)
    order_statuses: dict[float, Record] = field(default_factory=dict)
    referrers: dict[float, Record] = field(default_factory=dict)
    return_reasons: dict[int, Record] = field(default_factory=dict)
    tags: dict[int, Record] = field(default_factory=dict)
    properties: dict[int, Record] = field(default_factory=dict)
    categories: dict[int, Record] = field(default_factory=dict)
    attributes: dict[int, Record] = field(default_factory=dict)
    attribute_values: dict[int, Record] = field(default_factory=dict)

    # catalogue
    items: dict[int, Record] = field(default_factory=dict)
    variations: dict[int, Record] = field(default_factory=dict)
    variation_by_number: dict[str, int] = field(default_factory=dict)
    variations_by_code: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    variation_barcodes: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))
    variation_sales_prices: dict[int, dict[int, Record]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    variation_properties: dict[int, dict[int, Record]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    variation_categories: dict[int, dict[int, Record]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    variation_attribute_values: dict[int, list[Record]] = field(
        default_factory=lambda: defaultdict(list)
    )
    variation_clients: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))
    tag_relationships: dict[tuple[int, str, str], Record] = field(default_factory=dict)
    images: dict[int, Record] = field(default_factory=dict)
    variation_images: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))
    # variationId -> warehouseId -> stock record
    stock: dict[int, dict[int, Record]] = field(default_factory=lambda: defaultdict(dict))

    # orders
    orders: dict[int, Record] = field(default_factory=dict)
    shipping_packages: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))

    def next_id(self, kind: str, start: int = 1) -> int:
        with self.lock:
            counter = self.ids.get(kind)
            if counter is None:
                counter = self.ids[kind] = itertools.count(start)
            return next(counter)

    def bump_ids(self, kind: str, past: int) -> None:
        """Make the next id of `kind` larger than `past` (after seeding explicit ids)."""
        with self.lock:
            self.ids[kind] = itertools.count(past + 1)

    @staticmethod
    def now() -> float:
        return time.time()

    def touch_variation(self, variation_id: int, related: bool = True) -> None:
        """Record a change for the updatedBetween / relatedUpdatedBetween filters."""
        variation = self.variations.get(variation_id)
        if variation is None:
            return
        ts = self.now()
        if related:
            variation["_relatedUpdatedTs"] = ts
            variation["relatedUpdatedAt"] = iso(ts)
        else:
            variation["_updatedTs"] = ts
            variation["updatedAt"] = iso(ts)
