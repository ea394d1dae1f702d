"""The business rules of order events, as plain functions (no Celery, no HTTP, no database).

They turn a PlentyONE order (as `clients.plentyone` loads it) into what SPoCC is sent, and
decide what an answer means for the order: which status, hold or block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from schemas.config import ConnectionConfig, Rules

# PlentyONE order item types: only variations are sold goods; shipping costs, coupons,
# gift cards and the like are not sent to SPoCC.
ITEM_TYPE_VARIATION = 1
ADDRESS_BILLING = 1
ADDRESS_DELIVERY = 2
OPTION_EMAIL = 5
OPTION_PHONE = 4
RETURN_REASON_PROPERTY = 35
NO_REASON = 1  # SPoCC's "No reason", always there
SPOCC_ID = re.compile(r"^\d{11}$")

# PlentyONE country ids → ISO 3166-1 alpha-2 (PlentyONE's fixed list, the common part).
COUNTRIES: dict[int, str] = {
    1: "DE", 2: "AT", 3: "BE", 4: "CH", 5: "CY", 6: "CZ", 7: "DK", 8: "ES", 9: "EE", 10: "FR",
    11: "FI", 12: "GB", 13: "GR", 14: "HU", 15: "IT", 16: "IE", 17: "LU", 18: "LV", 19: "MT",
    20: "NO", 21: "NL", 22: "PT", 23: "PL", 24: "SE", 25: "SG", 26: "SK", 27: "SI", 28: "US",
    29: "AU", 30: "CA", 31: "CN", 32: "JP", 33: "LT", 34: "LI", 35: "MC", 36: "MX",
}


class Hold(Exception):
    """The order cannot be sent until a person acts (a mapping, a release); says why."""


class Invalid(Exception):
    """The order can never be sent as it is (e.g. no line SPoCC knows)."""


@dataclass(frozen=True)
class Line:
    spocc_id: str
    quantity: int
    price: Decimal

    def as_json(self) -> dict[str, Any]:
        return {"spoccId": self.spocc_id, "quantity": self.quantity, "price": money(self.price)}


def money(value: Decimal | float | str) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def referrer_key(value: float | str) -> str:
    return f"{float(value):.2f}"


def spocc_id_of(item: Mapping[str, Any], barcode_type_id: int) -> str | None:
    """The SPoCC ID of an order line: its variation's SPoCC-ID barcode, else its number."""
    for barcode in item.get("variationBarcodes") or []:
        code = str(barcode.get("code", ""))
        if int(barcode.get("barcodeId", -1)) == barcode_type_id and SPOCC_ID.match(code):
            return code
    number = str((item.get("variation") or {}).get("number") or "")
    return number if SPOCC_ID.match(number) else None


def order_lines(order: Mapping[str, Any], barcode_type_id: int) -> list[Line]:
    lines = []
    for item in order.get("orderItems") or []:
        if int(item.get("typeId", 0)) != ITEM_TYPE_VARIATION:
            continue
        spocc_id = spocc_id_of(item, barcode_type_id)
        if spocc_id is None:
            raise Hold(f"order item {item.get('id')} (variation {item.get('itemVariationId')}) "
                       "has no SPoCC ID")
        quantity = float(item.get("quantity") or 0)
        if quantity <= 0 or not quantity.is_integer():
            raise Invalid(f"order item {item.get('id')}: quantity {quantity} is not a whole "
                          "positive number")
        amounts = item.get("amounts") or [{}]
        lines.append(Line(spocc_id, int(quantity), Decimal(str(amounts[0].get("priceGross", 0)))))
    if not lines:
        raise Invalid("the order has no line with a variation")
    return lines


def _address(order: Mapping[str, Any], type_id: int) -> dict[str, Any] | None:
    for address in order.get("addresses") or []:
        pivot = address.get("pivot") or {}
        if int(pivot.get("typeId", address.get("typeId", 0)) or 0) == type_id:
            return dict(address)
    return None


def spocc_address(address: Mapping[str, Any]) -> dict[str, Any]:
    options = {int(o.get("typeId", 0)): o.get("value") for o in address.get("options") or []}
    country = COUNTRIES.get(int(address.get("countryId") or 0))
    if country is None:
        raise Hold(f"country id {address.get('countryId')} has no ISO code in the connector")
    return {
        "firstName": address.get("name2") or None,
        "lastName": address.get("name3") or None,
        "company": address.get("name1") or None,
        "street": address.get("address1") or "",
        "houseNumber": address.get("address2") or "",
        "additional": address.get("address3") or None,
        "postalCode": address.get("postalCode") or "",
        "city": address.get("town") or "",
        "country": country,
        "email": options.get(OPTION_EMAIL),
        "phone": options.get(OPTION_PHONE),
    }


def warehouse_of(order: Mapping[str, Any]) -> int | None:
    for item in order.get("orderItems") or []:
        if int(item.get("typeId", 0)) == ITEM_TYPE_VARIATION and item.get("warehouseId"):
            return int(item["warehouseId"])
    for relation in order.get("relations") or []:
        if relation.get("referenceType") == "warehouse" and relation.get("relation") == "sender":
            return int(relation["referenceId"])
    return None


def order_date(order: Mapping[str, Any]) -> str | None:
    created = order.get("createdAt")
    if isinstance(created, str) and re.search(r"(Z|[+-]\d{2}:?\d{2})$", created):
        return created
    return None


def registration(order: Mapping[str, Any], conn: ConnectionConfig) -> dict[str, Any]:
    """The `POST /orders` body for a PlentyONE order; Hold when a mapping is missing."""
    referrer = order.get("referrerId")
    spocc_referrer = conn.mappings.spocc_referrer(referrer) if referrer is not None else None
    if spocc_referrer is None:
        raise Hold(f"referrer {referrer} is not mapped to a SPoCC referrer (mappings.markets)")
    warehouse = warehouse_of(order)
    store = conn.mappings.store_for_warehouse(warehouse) if warehouse is not None else None
    if store is None:
        raise Hold(f"warehouse {warehouse} is not mapped to a channel store "
                   "(mappings.warehouses)")
    lines = order_lines(order, conn.mappings.item_import.spocc_id_barcode_type_id)
    billing = _address(order, ADDRESS_BILLING)
    if billing is None:
        raise Invalid("the order has no billing address")
    delivery = _address(order, ADDRESS_DELIVERY)
    body: dict[str, Any] = {
        "plentyOrderId": int(order["id"]),
        "channelStore": store.channel_store,
        "referrerId": spocc_referrer,
        "currency": "EUR",
        "lines": [line.as_json() for line in lines],
        "billingAddress": spocc_address(billing),
        "shippingAddress": spocc_address(delivery) if delivery else None,
    }
    date = order_date(order)
    if date:
        body["orderDate"] = date
    return body


def blocked_by(order: Mapping[str, Any], rules: Rules) -> str | None:
    """The export rule that keeps this order from SPoCC, or None."""
    referrer = order.get("referrerId")
    if referrer is None:
        return None
    blocked = {referrer_key(r) for r in rules.block_order_referrers}
    if referrer_key(referrer) in blocked:
        return f"export rule: orders of referrer {referrer_key(referrer)} are not exported"
    return None


def acceptance_failures(
    lines: Iterable[Mapping[str, Any]],
    stock: Mapping[str, Mapping[str, Any]],
    channel_store: int,
    threshold: float,
) -> list[str]:
    """Why the acceptance rule refuses the order (empty: accept). `stock` is SPoCC's stock
    item per SPoCC ID: every line must be available in the store and priced at least
    threshold x the retail price."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line["spoccId"]] = wanted.get(line["spoccId"], 0) + int(line["quantity"])
    problems = []
    for spocc_id, quantity in wanted.items():
        item = stock.get(spocc_id)
        if item is None:
            problems.append(f"{spocc_id}: unknown at SPoCC")
            continue
        available = next((int(s.get("available", 0)) for s in item.get("stock") or []
                          if int(s.get("channelStore", -1)) == channel_store), 0)
        if available < quantity:
            problems.append(f"{spocc_id}: {quantity} wanted, {available} available")
    for line in lines:
        item = stock.get(line["spoccId"])
        retail = ((item or {}).get("prices") or {}).get("retail")
        if retail is None:
            continue
        floor = Decimal(str(retail)) * Decimal(str(threshold))
        if Decimal(str(line["price"])) < floor:
            problems.append(f"{line['spoccId']}: price {line['price']} below "
                            f"{threshold} x {retail}")
    return problems


def rejection_outcome(code: str) -> str:
    """The status outcome of a registration SPoCC refused (`error.code`)."""
    return {"bad_address": "bad_address", "insufficient_stock": "not_enough_stock"}.get(
        code, "registration_failed")


def parent_order_id(return_order: Mapping[str, Any]) -> int | None:
    for relation in return_order.get("relations") or []:
        if relation.get("relation") == "parent" and relation.get("referenceType") == "order":
            return int(relation["referenceId"])
    for reference in return_order.get("orderReferences") or []:
        if reference.get("referenceType") == "parent":
            return int(reference.get("referenceOrderId") or reference.get("originOrderId"))
    return None


def return_reason(return_order: Mapping[str, Any], mapping: Mapping[int, int]) -> int:
    """The SPoCC reason of a return: its PlentyONE reason (property 35) mapped, else 1."""
    for prop in return_order.get("properties") or []:
        if int(prop.get("typeId", 0)) == RETURN_REASON_PROPERTY:
            try:
                return mapping.get(int(str(prop.get("value"))), NO_REASON)
            except ValueError:
                return NO_REASON
    return NO_REASON


def return_body(return_order: Mapping[str, Any], conn: ConnectionConfig) -> dict[str, Any]:
    lines = order_lines(return_order, conn.mappings.item_import.spocc_id_barcode_type_id)
    merged: dict[str, int] = {}
    for line in lines:
        merged[line.spocc_id] = merged.get(line.spocc_id, 0) + line.quantity
    return {
        "plentyReturnOrderId": int(return_order["id"]),
        "reasonId": return_reason(return_order, conn.mappings.return_reasons),
        "lines": [{"spoccId": s, "quantity": q} for s, q in merged.items()],
    }


def payment_body(order: Mapping[str, Any]) -> dict[str, Any]:
    """What PlentyONE says was invoiced for the order, reported as its payment."""
    amounts = order.get("amounts") or [{}]
    currency = str(amounts[0].get("currency") or "EUR")
    total = Decimal(str(amounts[0].get("invoiceTotal") or amounts[0].get("grossTotal") or 0))
    if total <= 0:
        total = sum((Decimal(str((i.get("amounts") or [{}])[0].get("priceGross", 0)))
                     * Decimal(str(i.get("quantity") or 0))
                     for i in order.get("orderItems") or []), Decimal(0))
    if total <= 0:
        raise Invalid("the order has no amount to report as paid")
    return {"amount": money(total), "currency": currency, "method": "plentyone",
            "reference": f"plentyone-order-{order['id']}"}


def shipping_documents_body(order: Mapping[str, Any]) -> dict[str, Any]:
    return {"documents": [{"type": "delivery_note", "number": f"LS-{order['id']}",
                           "url": None}]}


def status_number(value: str) -> float:
    return float(value)
