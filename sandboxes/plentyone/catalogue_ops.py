"""Creating and showing items and variations; shared by the routes and the seeder.

Callers hold `store.lock`.
"""

from __future__ import annotations

from typing import Any

from sandboxes.plentyone.http import ApiError, int_field, number_field, public
from sandboxes.plentyone.lookups import PLENTY_ID
from sandboxes.plentyone.store import Record, Store, iso

VARIATION_FIELDS = (
    "number", "externalId", "model", "name", "isActive", "position", "availability",
    "purchasePrice", "weightG", "weightNetG", "widthMM", "lengthMM", "heightMM",
    "customsTariffNumber", "unitsContained", "stockLimitation",
)


def create_item(store: Store, body: dict[str, Any]) -> tuple[Record, list[Record]]:
    variations = body.get("variations")
    if not isinstance(variations, list) or not variations:
        raise ApiError(422, "an item is created with its first variation in variations[]",
                       "validation_error")
    for spec in variations:
        check_variation(store, spec)
    ts = store.now()
    item_id = store.next_id("item", 100)
    item: Record = {
        "id": item_id, "position": int(body.get("position", 0) or 0), "itemType": "default",
        "stockType": int(body.get("stockType", 0) or 0), "storeSpecial": 0, "ownerId": 0,
        "manufacturerId": int(body.get("manufacturerId", 0) or 0), "producingCountryId": 0,
        "revenueAccount": 0, "couponRestriction": 0, "condition": 0, "conditionApi": 0,
        "isSubscribable": False, "isSerialNumber": False, "isShippingPackage": False,
        "flagOne": 0, "flagTwo": 0, "ageRestriction": int(body.get("ageRestriction", 0) or 0),
        "feedback": 0, "free1": str(body.get("free1", "")), "createdAt": iso(ts),
        "updatedAt": iso(ts),
    }
    if isinstance(body.get("texts"), list):
        item["texts"] = body["texts"]
    store.items[item_id] = item
    created = []
    for index, spec in enumerate(variations):
        created.append(create_variation(store, item_id, spec, is_main=index == 0))
    item["mainVariationId"] = created[0]["id"]
    return item, created


def check_variation(store: Store, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ApiError(422, "a variation must be a JSON object", "validation_error")
    number = spec.get("number")
    if number not in (None, "") and str(number) in store.variation_by_number:
        raise ApiError(422, f"the variation number {number} is already in use",
                       "duplicate_variation_number")
    for barcode in spec.get("variationBarcodes") or []:
        check_barcode(store, barcode)
    for relation in spec.get("variationSalesPrices") or []:
        if int_field(relation, "salesPriceId") not in store.sales_prices:
            raise ApiError(422, f"unknown sales price {relation.get('salesPriceId')}",
                           "validation_error")
    for relation in spec.get("variationCategories") or []:
        if int_field(relation, "categoryId") not in store.categories:
            raise ApiError(422, f"unknown category {relation.get('categoryId')}",
                           "validation_error")
    for relation in spec.get("variationAttributeValues") or []:
        value_id = int_field(relation, "valueId")
        value = store.attribute_values.get(value_id)
        if value is None or value["attributeId"] != int_field(relation, "attributeId"):
            raise ApiError(422, f"unknown attribute value {value_id}", "validation_error")


def check_barcode(store: Store, barcode: Any) -> None:
    if not isinstance(barcode, dict):
        raise ApiError(422, "a barcode must be a JSON object", "validation_error")
    barcode_id = int_field(barcode, "barcodeId")
    if barcode_id not in store.barcode_types:
        raise ApiError(422, f"unknown barcode type {barcode_id}", "validation_error")
    code: str = str(barcode.get("code") or "")
    if not code:
        raise ApiError(422, "missing required field(s): code", "validation_error")
    for other in store.variations_by_code.get(code, ()):
        if any(b["barcodeId"] == barcode_id and b["code"] == code
               for b in store.variation_barcodes[other]):
            raise ApiError(422, f"the code {code} of barcode type {barcode_id} is already "
                           f"linked to variation {other}", "duplicate_barcode")


def create_variation(store: Store, item_id: int, spec: dict[str, Any],
                     is_main: bool) -> Record:
    ts = store.now()
    variation_id = store.next_id("variation", 1000)
    item = store.items[item_id]
    variation: Record = {
        "id": variation_id, "itemId": item_id, "isMain": is_main,
        "mainVariationId": None if is_main else item.get("mainVariationId"),
        "position": 0, "isActive": True, "number": "", "externalId": "", "model": "",
        "name": "", "availability": 1, "createdAt": iso(ts), "updatedAt": iso(ts),
        "relatedUpdatedAt": iso(ts), "_createdTs": ts, "_updatedTs": ts,
        "_relatedUpdatedTs": ts,
        "unit": spec.get("unit") or {"unitId": 1, "content": 1},
    }
    for name in VARIATION_FIELDS:
        if name in spec and spec[name] is not None:
            variation[name] = spec[name]
    if variation["number"] in ("", None):
        variation["number"] = str(variation_id)
    variation["number"] = str(variation["number"])
    store.variations[variation_id] = variation
    store.variation_by_number[variation["number"]] = variation_id
    for barcode in spec.get("variationBarcodes") or []:
        add_barcode(store, variation_id, barcode)
    for relation in spec.get("variationSalesPrices") or []:
        set_price(store, relation | {"variationId": variation_id})
    for relation in spec.get("variationCategories") or []:
        link_category(store, relation | {"variationId": variation_id})
    for relation in spec.get("variationAttributeValues") or []:
        store.variation_attribute_values[variation_id].append({
            "variationId": variation_id, "attributeId": int_field(relation, "attributeId"),
            "valueId": int_field(relation, "valueId"),
        })
    clients = spec.get("variationClients") or [{"plentyId": PLENTY_ID}]
    for client in clients:
        store.variation_clients[variation_id].append({
            "variationId": variation_id, "plentyId": int(client.get("plentyId", PLENTY_ID)),
            "createdAt": iso(ts),
        })
    return variation


def add_barcode(store: Store, variation_id: int, barcode: dict[str, Any]) -> Record:
    code = str(barcode["code"])
    record: Record = {
        "variationId": variation_id, "barcodeId": int_field(barcode, "barcodeId"),
        "code": code, "createdAt": iso(store.now()),
    }
    store.variation_barcodes[variation_id].append(record)
    store.variations_by_code[code].add(variation_id)
    store.touch_variation(variation_id)
    return record


def set_price(store: Store, relation: dict[str, Any]) -> tuple[Record, float | None]:
    """Set one variation's price for one sales price; answers (record, previous price)."""
    variation_id = int_field(relation, "variationId")
    price_id = int_field(relation, "salesPriceId")
    price = number_field(relation, "price")
    ts = store.now()
    prices = store.variation_sales_prices[variation_id]
    existing = prices.get(price_id)
    previous = existing["price"] if existing else None
    if existing is None:
        existing = prices[price_id] = {
            "variationId": variation_id, "salesPriceId": price_id, "price": price,
            "lowestPrice": 0.0, "lowestPriceCalculation": False, "createdAt": iso(ts),
            "updatedAt": iso(ts), "_updatedTs": ts,
        }
    existing["price"] = price
    if "lowestPrice" in relation:
        existing["lowestPrice"] = number_field(relation, "lowestPrice")
    existing["updatedAt"] = iso(ts)
    existing["_updatedTs"] = ts
    store.touch_variation(variation_id)
    return existing, previous


def link_category(store: Store, relation: dict[str, Any]) -> Record:
    variation_id = int_field(relation, "variationId")
    category_id = int_field(relation, "categoryId")
    record = {
        "variationId": variation_id, "categoryId": category_id,
        "position": int(relation.get("position", 0) or 0), "isNeckermannPrimary": "0",
    }
    store.variation_categories[variation_id][category_id] = record
    store.touch_variation(variation_id)
    return record


def variation_view(store: Store, variation: Record, relations: set[str]) -> Record:
    """A variation as the API shows it, with the `with=` relations asked for."""
    view = public(variation)
    if view.get("mainVariationId") is None:
        view.pop("mainVariationId", None)
    vid = variation["id"]
    if "variationBarcodes" in relations:
        view["variationBarcodes"] = [dict(b) for b in store.variation_barcodes.get(vid, [])]
    if "variationSalesPrices" in relations:
        view["variationSalesPrices"] = [
            public(p) for p in store.variation_sales_prices.get(vid, {}).values()
        ]
    if relations & {"properties", "variationProperties"}:
        view["variationProperties"] = [
            public(p) for p in store.variation_properties.get(vid, {}).values()
        ]
        view["properties"] = view["variationProperties"]
    if "variationCategories" in relations:
        view["variationCategories"] = list(store.variation_categories.get(vid, {}).values())
    if "variationDefaultCategory" in relations:
        categories = list(store.variation_categories.get(vid, {}).values())
        view["variationDefaultCategory"] = [
            {"variationId": vid, "branchId": c["categoryId"], "plentyId": PLENTY_ID,
             "manually": "1"} for c in categories[:1]
        ]
    if "variationAttributeValues" in relations:
        view["variationAttributeValues"] = [
            dict(v) | {"attributeValue": public(store.attribute_values[v["valueId"]])}
            for v in store.variation_attribute_values.get(vid, [])
        ]
    if "variationClients" in relations:
        view["variationClients"] = list(store.variation_clients.get(vid, []))
    if "images" in relations:
        view["images"] = [
            public(store.images[link["imageId"]]) for link in store.variation_images.get(vid, [])
            if link["imageId"] in store.images
        ]
    if "itemImages" in relations:
        view["itemImages"] = [public(i) for i in store.images.values()
                              if i["itemId"] == variation["itemId"]]
    if "variationWarehouses" in relations:
        view["variationWarehouses"] = [
            {"variationId": vid, "warehouseId": wid, "storageLocation": 0,
             "reorderLevel": 0, "stockBuffer": 0, "isBatch": False, "isBestBeforeDate": False}
            for wid in sorted(store.stock.get(vid, {}))
        ]
    if "stock" in relations:
        view["stock"] = stock_view(store, vid)
    if "tags" in relations:
        view["tags"] = [
            {"tagId": tag_id, "tagType": "variation", "relationshipValue": str(vid)}
            for (tag_id, kind, value) in store.tag_relationships
            if kind == "variation" and value == str(vid)
        ]
    if "item" in relations:
        view["item"] = public(store.items[variation["itemId"]])
    if "parent" in relations and variation.get("mainVariationId"):
        parent = store.variations.get(variation["mainVariationId"])
        if parent is not None:
            view["parent"] = public(parent)
    return view


def stock_view(store: Store, variation_id: int) -> list[Record]:
    by_warehouse = store.stock.get(variation_id, {})
    return [public(by_warehouse[wid]) for wid in sorted(by_warehouse)]
