"""Seeded lookups: the ids an account configured for SPoCC would have.

The ids are fixed so that mappings in tests and demos can name them; `LOOKUP_IDS` lists
them for the runner's banner and for tests.
"""

from __future__ import annotations

from typing import Any

from sandboxes.plentyone.store import Record, Store, iso

WAREHOUSES = [(1, "Main warehouse", 0), (2, "Store Berlin", 0), (3, "Store Hamburg", 0)]
SALES_PRICES = [
    (1, "Retail price", "default"),
    (2, "Target price", "default"),
    (3, "Recommended retail price", "rrp"),
]
BARCODE_TYPES = [(1, "EAN", "GTIN_13"), (2, "SPoCC ID", "CODE_128"), (3, "UPC", "UPC")]
ORDER_STATUSES = [
    (1.0, "Incomplete data", "#ff0000"),
    (3.0, "Waiting for payment", "#ff9900"),
    (4.0, "In preparation for shipping", "#99cc00"),
    (5.0, "Cleared for shipping", "#33cc33"),
    (5.1, "Handed to SPoCC", "#33cc99"),
    (6.0, "Being shipped", "#3399ff"),
    (6.1, "SPoCC registration failed", "#cc3300"),
    (6.2, "SPoCC: bad address", "#cc3300"),
    (6.3, "SPoCC: out of stock", "#cc3300"),
    (7.0, "Outgoing items booked", "#0066cc"),
    (8.0, "Cancelled", "#999999"),
    (8.1, "Cancelled by customer", "#999999"),
    (8.8, "Cancelled, confirmed by SPoCC", "#666666"),
    (9.0, "Return", "#9900cc"),
    (9.1, "Return registered at SPoCC", "#9900cc"),
    (10.0, "Credit note", "#cccc00"),
    (11.0, "Payment", "#00cccc"),
]
REFERRERS = [
    (0.0, "Manual entry", "plenty"),
    (1.0, "Client (store)", "plenty"),
    (4.0, "Amazon", "amazon"),
    (104.01, "SPoCC", "spocc"),
    (104.02, "SPoCC outlet", "spocc"),
]
RETURN_REASONS = [
    (1, "No reason"),
    (2, "Too small"),
    (3, "Too large"),
    (4, "Damaged"),
    (5, "Not as described"),
    (6, "Wrong item delivered"),
]
TAGS = [(1, "SPoCC", "#0066cc"), (2, "SPoCC: do not sync", "#cc0000"), (3, "Sale", "#00cc00")]
PROPERTIES = [(1, "shortText", "SPoCC article id"), (2, "shortText", "Material"),
              (3, "longText", "Care instructions")]
CATEGORIES = [(1, "Clothing", None), (2, "Shoes", None), (3, "Accessories", None),
              (4, "Women", 1), (5, "Men", 1)]
ATTRIBUTES = [(1, "Colour"), (2, "Size")]

LOOKUP_IDS: dict[str, Any] = {
    "warehouses": [w[0] for w in WAREHOUSES],
    "sales_prices": {"retail": 1, "target": 2, "rrp": 3},
    "barcode_types": {"ean": 1, "spocc_id": 2, "upc": 3},
    "order_statuses": [s[0] for s in ORDER_STATUSES],
    "referrers": [r[0] for r in REFERRERS],
    "spocc_referrer": 104.01,
    "return_reasons": [r[0] for r in RETURN_REASONS],
    "tags": {"spocc": 1, "no_sync": 2, "sale": 3},
    "properties": [p[0] for p in PROPERTIES],
    "categories": [c[0] for c in CATEGORIES],
    "attributes": {"colour": 1, "size": 2},
    "plenty_id": 1000,
    "storage_location_id": 0,
    "stock_correction_reason": 301,
}

PLENTY_ID = 1000


def seed_lookups(store: Store) -> None:
    ts = store.now()
    stamp = {"createdAt": iso(ts), "updatedAt": iso(ts)}
    for wid, name, type_id in WAREHOUSES:
        store.warehouses[wid] = {
            "id": wid, "name": name, "note": "", "typeId": type_id, "priority": wid,
            "onStockAvailability": 1, "outOfStockAvailability": 7,
            "splitByShippingProfile": False, "storageLocationType": "none",
            "storageLocationZone": 0, "repairWarehouseId": 0, "isInventoryModeActive": False,
            "logisticsType": "own", **stamp,
        }
    for sid, name, kind in SALES_PRICES:
        store.sales_prices[sid] = {
            "id": sid, "position": sid, "minimumOrderQuantity": 1, "type": kind,
            "isCustomerPrice": False, "isDisplayedByDefault": True, "isLiveConversion": False,
            "interval": "none", **stamp,
            "names": [{"salesPriceId": sid, "lang": "en", "nameInternal": name,
                       "nameExternal": name, **stamp}],
            "currencies": [{"salesPriceId": sid, "currency": "EUR", **stamp}],
            "clients": [{"salesPriceId": sid, "plentyId": PLENTY_ID, **stamp}],
            "referrers": [{"salesPriceId": sid, "referrerId": r[0], **stamp}
                          for r in REFERRERS],
        }
    for bid, name, kind in BARCODE_TYPES:
        store.barcode_types[bid] = {
            "id": bid, "name": name, "type": kind, **stamp,
            "referrers": [{"barcodeId": bid, "referrerId": -1, **stamp}],
        }
    for status_id, name, color in ORDER_STATUSES:
        store.order_statuses[status_id] = _order_status(status_id, name, color, stamp)
    for rid, name, origin in REFERRERS:
        store.referrers[rid] = {
            "id": rid, "isEditable": rid >= 100, "backendName": name, "name": name,
            "orderOwnerId": 0, "isFilterable": True, "origin": origin, "showInLeads": False,
        }
    for reason_id, reason in RETURN_REASONS:
        store.return_reasons[reason_id] = {"id": reason_id, "reason": reason}
    for tid, name, color in TAGS:
        store.tags[tid] = _tag(tid, name, color)
    for position, (pid, cast, name) in enumerate(PROPERTIES, start=1):
        store.properties[pid] = {
            "id": pid, "cast": cast, "type": "item", "position": position, **stamp,
            "names": [{"propertyId": pid, "lang": "en", "name": name}],
        }
    for cid, name, parent in CATEGORIES:
        store.categories[cid] = category_record(cid, name, parent, "item", stamp)
    for aid, name in ATTRIBUTES:
        store.attributes[aid] = attribute_record(aid, name, aid, stamp)
    store.bump_ids("warehouse", max(store.warehouses))
    store.bump_ids("sales_price", max(store.sales_prices))
    store.bump_ids("barcode_type", max(store.barcode_types))
    store.bump_ids("tag", max(store.tags))
    store.bump_ids("property", max(store.properties))
    store.bump_ids("category", max(store.categories))
    store.bump_ids("attribute", max(store.attributes))


def _order_status(status_id: float, name: str, color: str, stamp: dict[str, str]) -> dict[str, Any]:
    return {
        "statusId": status_id, "names": {"en": name, "de": name}, "isErasable": status_id % 1 != 0,
        "isFrontendVisible": True, "isReorderVisible": False, "isRedistributionVisible": False,
        "color": color, **stamp,
    }


def order_status_record(
    status_id: float, names: dict[str, str], stamp: dict[str, str]
) -> dict[str, Any]:
    record = _order_status(status_id, names.get("en") or next(iter(names.values()), ""),
                           "#cccccc", stamp)
    record["names"] = names
    return record


def _tag(tid: int, name: str, color: str) -> dict[str, Any]:
    return {
        "id": tid, "name": name, "color": color,
        "names": [{"id": tid, "tagId": tid, "tagLang": "en", "tagName": name}],
        "availabilities": [{"tagId": tid, "tagType": "variation"},
                           {"tagId": tid, "tagType": "order"}],
    }


def tag_record(tid: int, name: str, color: str) -> dict[str, Any]:
    return _tag(tid, name, color)


def category_record(cid: int, name: str, parent: int | None, kind: str,
                    stamp: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": cid, "type": kind, "linklist": "Y", "right": "all", "sitemap": "Y",
        "hasChildren": False, "level": 1, "details": [{
            "categoryId": cid, "plentyId": PLENTY_ID, "lang": "en", "name": name,
            "nameUrl": name.lower().replace(" ", "-"), "position": cid,
            "updatedAt": stamp["updatedAt"],
        }], "clients": [{"plentyId": PLENTY_ID}],
    }
    if parent is not None:
        record["parentCategoryId"] = parent
        record["level"] = 2
    return record


def attribute_record(aid: int, name: str, position: int, stamp: dict[str, str]) -> dict[str, Any]:
    return {
        "id": aid, "backendName": name, "position": position, "isSurchargePercental": False,
        "isLinkableToImage": aid == 1, "amazonAttribute": "", "fruugoAttribute": "",
        "pixmaniaAttribute": 0, "ottoAttribute": "", "googleShoppingAttribute": "",
        "neckermannAtEpAttribute": 0, "typeOfSelectionInOnlineStore": "dropdown",
        "laRedouteAttribute": 0, "isGroupable": False, **stamp,
    }


def add_attribute_value(store: Store, attribute_id: int, name: str, position: int) -> Record:
    """A new value of an attribute (a colour, a size); the caller holds the lock."""
    vid = store.next_id("attribute_value")
    now = iso(store.now())
    record: Record = {
        "id": vid, "attributeId": attribute_id, "backendName": name,
        "position": position or vid, "image": "", "comment": "", "amazonValue": "",
        "ottoValue": "", "neckermannAtEpValue": "", "laRedouteValue": "", "tracdelightValue": "",
        "percentageDistribution": 0, "createdAt": now, "updatedAt": now,
    }
    store.attribute_values[vid] = record
    return record
