"""What a SPoCC variation's stock and prices should be in PlentyONE: mappings and export rules
applied (before hashing, so a changed rule changes the hash). Plain functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from schemas.config import ConnectionConfig

# Record keys: "s:<warehouseId>" → quantity, "p:<salesPriceId>" → price as "79.95".
Values = dict[str, Any]


def blocked(conn: ConnectionConfig, product_group_id: int | None) -> bool:
    return product_group_id is not None and product_group_id in conn.rules.block_product_groups


def stock_quantity(conn: ConnectionConfig, available: int) -> int:
    """SPoCC's available stock minus the buffer, capped, never negative."""
    qty = max(0, int(available) - conn.rules.stock_buffer)
    if conn.rules.cap_stock is not None:
        qty = min(qty, conn.rules.cap_stock)
    return qty


def money(value: Any) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def desired_values(conn: ConnectionConfig, record: Mapping[str, Any]) -> Values:
    """Stock per mapped warehouse and the mapped prices of one `/stock` record.

    Channel stores without a warehouse are left out (`spocc check` reports them); a price
    without a target sales price, or a null SPoCC price, is not written.
    """
    out: Values = {}
    for entry in record.get("stock") or []:
        target = conn.mappings.warehouse_for_store(int(entry["channelStore"]))
        if target is not None:
            out[f"s:{target.warehouse_id}"] = stock_quantity(conn, entry["available"])
    prices = record.get("prices") or {}
    mapping = conn.mappings.sales_prices
    for field, sales_price_id in (
        ("retail", mapping.retail),
        ("target", mapping.target),
        ("recommendedRetail", mapping.recommended_retail),
    ):
        value = prices.get(field)
        if sales_price_id is not None and value is not None:
            out[f"p:{sales_price_id}"] = money(value)
    return out


def mapped_keys(conn: ConnectionConfig) -> frozenset[str]:
    """Every record the mappings can write: a stock per mapped warehouse, the mapped prices."""
    prices = conn.mappings.sales_prices
    return frozenset(
        [f"s:{w.warehouse_id}" for w in conn.mappings.warehouses]
        + [
            f"p:{price_id}"
            for price_id in (prices.retail, prices.target, prices.recommended_retail)
            if price_id is not None
        ]
    )


def current_values(variation: Mapping[str, Any], wanted: Collection[str]) -> Values:
    """The records of `wanted` (keys) as PlentyONE has them now (a variation read
    `with=stock,variationSalesPrices`); records it lacks are absent."""
    out: Values = {}
    for stock in variation.get("stock") or []:
        key = f"s:{int(stock['warehouseId'])}"
        if key in wanted:
            out[key] = round(float(stock.get("stockPhysical") or 0))
    for price in variation.get("variationSalesPrices") or []:
        key = f"p:{int(price['salesPriceId'])}"
        if key in wanted:
            out[key] = money(price["price"])
    return out


def differing(wanted: Values, have: Mapping[str, Any]) -> Values:
    """The records to write. A warehouse PlentyONE has no stock row for counts as 0."""
    out: Values = {}
    for key, value in wanted.items():
        current = have.get(key, 0 if key.startswith("s:") else None)
        if current != value:
            out[key] = value
    return out


def values_hash(values: Mapping[str, Any]) -> str:
    raw = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
