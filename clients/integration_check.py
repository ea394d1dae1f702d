"""The integration check: credentials accepted, and every mapped id exists on its side.

Each finding names the mapping row at fault (`mappings.warehouses[1].warehouse_id`), so an
operator fixes the configuration before a task ever trips over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from clients.errors import ClientError
from clients.plentyone import PlentyOneClient
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig


@dataclass(frozen=True)
class Finding:
    item: str
    ok: bool
    detail: str


def _ids(rows: Iterable[dict[str, Any]], key: str = "id") -> set[str]:
    return {_norm(r.get(key)) for r in rows}


def _norm(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.2f}"


class _Lookups:
    """Each lookup fetched once, lazily; a failed fetch is one finding, not one per row."""

    def __init__(self) -> None:
        self._cache: dict[str, set[str] | ClientError] = {}

    def get(self, name: str, fetch: Callable[[], set[str]]) -> set[str] | ClientError:
        if name not in self._cache:
            try:
                self._cache[name] = fetch()
            except ClientError as exc:
                self._cache[name] = exc
        return self._cache[name]


def check_connection(
    conn: ConnectionConfig, plenty: PlentyOneClient, spocc: SpoccClient
) -> list[Finding]:
    findings: list[Finding] = []
    prefix = f"connection {conn.id}"
    plenty_ok = _credentials(findings, f"{prefix}: PlentyONE credentials", plenty.check_credentials)
    spocc_ok = _credentials(findings, f"{prefix}: SPoCC API keys", spocc.check_credentials)
    m = conn.mappings
    p, s = _Lookups(), _Lookups()

    def expect(path: str, value: Any, what: str, system: str, ids: set[str] | ClientError) -> None:
        if value is None:
            return
        if isinstance(ids, ClientError):
            findings.append(Finding(f"{prefix}: {path}", False, f"cannot list {what}: {ids}"))
        elif _norm(value) not in ids:
            findings.append(
                Finding(f"{prefix}: {path}", False, f"{what} {value} does not exist in {system}")
            )

    if plenty_ok:
        warehouses = p.get("warehouses", lambda: _ids(plenty.warehouses()))
        for i, w in enumerate(m.warehouses):
            expect(f"mappings.warehouses[{i}].warehouse_id", w.warehouse_id, "warehouse",
                   "PlentyONE", warehouses)
        prices = p.get("sales prices", lambda: _ids(plenty.sales_prices()))
        for name in ("retail", "target", "recommended_retail"):
            expect(f"mappings.sales_prices.{name}", getattr(m.sales_prices, name), "sales price",
                   "PlentyONE", prices)
        barcodes = p.get("barcode types", lambda: _ids(plenty.barcode_types()))
        ii = m.item_import
        expect("mappings.item_import.ean_barcode_type_id", ii.ean_barcode_type_id,
               "barcode type", "PlentyONE", barcodes)
        expect("mappings.item_import.spocc_id_barcode_type_id", ii.spocc_id_barcode_type_id,
               "barcode type", "PlentyONE", barcodes)
        attributes = p.get("attributes", lambda: _ids(plenty.attributes()))
        expect("mappings.item_import.colour_attribute_id", ii.colour_attribute_id, "attribute",
               "PlentyONE", attributes)
        expect("mappings.item_import.size_attribute_id", ii.size_attribute_id, "attribute",
               "PlentyONE", attributes)
        tags = p.get("tags", lambda: _ids(plenty.tags()))
        expect("mappings.item_import.extended_data_tag_id", ii.extended_data_tag_id, "tag",
               "PlentyONE", tags)
        categories = p.get("categories", lambda: _ids(plenty.categories()))
        expect("mappings.item_import.default_category_id", ii.default_category_id, "category",
               "PlentyONE", categories)
        for i, cat in enumerate(m.categories.values()):
            expect(f"mappings.categories[{i}].category_id", cat, "category", "PlentyONE",
                   categories)
        properties = p.get("properties", lambda: _ids(plenty.properties()))
        for i, prop in enumerate(m.properties.values()):
            expect(f"mappings.properties[{i}].property_id", prop, "property", "PlentyONE",
                   properties)
        referrers = p.get("referrers", lambda: _ids(plenty.referrers()))
        for i, ref in enumerate(m.markets):
            expect(f"mappings.markets[{i}].plenty_referrer_id", ref, "referrer", "PlentyONE",
                   referrers)
        reasons = p.get("return reasons", lambda: _ids(plenty.return_reasons()))
        for i, reason in enumerate(m.return_reasons):
            expect(f"mappings.return_reasons[{i}].plenty_reason_id", reason, "return reason",
                   "PlentyONE", reasons)
        statuses = p.get("order statuses", lambda: _ids(plenty.order_statuses(), "statusId"))
        for outcome, status in m.order_statuses.items():
            expect(f"mappings.order_statuses.{outcome}", status, "order status", "PlentyONE",
                   statuses)

    if spocc_ok:
        stores = s.get("channel stores", lambda: _ids(spocc.channel_stores(), "number"))
        for i, w in enumerate(m.warehouses):
            expect(f"mappings.warehouses[{i}].channel_store", w.channel_store, "channel store",
                   "SPoCC", stores)
        groups = s.get("product groups", lambda: _ids(spocc.product_groups()))
        for i, group in enumerate(m.categories):
            expect(f"mappings.categories[{i}].product_group_id", group, "product group",
                   "SPoCC", groups)
        attrs = s.get("attributes", lambda: _ids(spocc.attributes()))
        for i, attr in enumerate(m.properties):
            expect(f"mappings.properties[{i}].spocc_attribute_id", attr, "attribute", "SPoCC",
                   attrs)
        s_refs = s.get("referrers", lambda: _ids(spocc.referrers()))
        for i, s_ref in enumerate(m.markets.values()):
            expect(f"mappings.markets[{i}].spocc_referrer_id", s_ref, "referrer", "SPoCC",
                   s_refs)
        s_reasons = s.get("return reasons", lambda: _ids(spocc.return_reasons()))
        for i, reason in enumerate(m.return_reasons.values()):
            expect(f"mappings.return_reasons[{i}].spocc_reason_id", reason, "return reason",
                   "SPoCC", s_reasons)

    if plenty_ok and spocc_ok and not any(not f.ok for f in findings):
        findings.append(Finding(f"{prefix}: mappings", True, "every mapped id exists"))
    return findings


def _credentials(findings: list[Finding], item: str, call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as exc:
        findings.append(Finding(item, False, str(exc)))
        return False
    findings.append(Finding(item, True, "accepted"))
    return True
