"""Items, variations, barcodes, sales prices, properties and category links."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.wrappers import Response

from sandboxes.plentyone.catalogue_ops import (
    add_barcode,
    check_barcode,
    check_variation,
    create_item,
    create_variation,
    link_category,
    set_price,
    variation_view,
)
from sandboxes.plentyone.http import (
    ApiError,
    as_object,
    bulk_records,
    envelope,
    int_field,
    json_body,
    not_found,
    paging,
    public,
    query_between,
    query_bool,
    query_ints,
    query_list,
    require,
    single_page,
)
from sandboxes.plentyone.state import sandbox
from sandboxes.plentyone.store import Record, Store, iso

bp = Blueprint("plentyone_items", __name__)


@bp.post("/rest/items")
def post_item() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    with sb.store.lock:
        item, variations = create_item(sb.store, body)
        sb.record("item.created", itemId=item["id"], variationIds=[v["id"] for v in variations])
        for variation in variations:
            _record_variation(sb.store, variation)
        answer = public(item) | {
            "variations": [variation_view(sb.store, v, set()) for v in variations]
        }
    return jsonify(answer)


def _record_variation(store: Store, variation: Record) -> None:
    sb = sandbox()
    vid = variation["id"]
    sb.record("variation.created", variationId=vid, itemId=variation["itemId"],
              number=variation["number"], externalId=variation.get("externalId", ""))
    for barcode in store.variation_barcodes.get(vid, []):
        sb.record("barcode.created", variationId=vid, barcodeId=barcode["barcodeId"],
                  code=barcode["code"])
    for price in store.variation_sales_prices.get(vid, {}).values():
        sb.record("price.set", variationId=vid, salesPriceId=price["salesPriceId"],
                  price=price["price"], previous=None)


@bp.get("/rest/items")
def list_items() -> Response:
    sb = sandbox()
    page, per_page = paging(sb.config.max_items_per_page)
    ids = query_ints("id")
    relations = set(query_list("with"))
    with sb.store.lock:
        items = [i for i in sb.store.items.values() if ids is None or i["id"] in ids]
        window = envelope(items, page, per_page)
        entries = []
        for item in window["entries"]:
            view = public(item)
            if "variations" in relations:
                view["variations"] = [
                    variation_view(sb.store, v, set()) for v in sb.store.variations.values()
                    if v["itemId"] == item["id"]
                ]
            entries.append(view)
        window["entries"] = entries
    return jsonify(window)


ITEM_FIELDS = ("position", "stockType", "storeSpecial", "ownerId", "manufacturerId",
               "producingCountryId", "revenueAccount", "couponRestriction", "condition",
               "flagOne", "flagTwo", "ageRestriction", "free1", "free2", "free3",
               "customsTariffNumber", "maximumOrderQuantity")


@bp.put("/rest/items")
def bulk_update_items() -> Response:
    sb = sandbox()
    records = bulk_records(json_body(), sb.config.bulk_limit)
    store = sb.store
    with store.lock:
        for record in records:
            require(record, "id")
            if int_field(record, "id") not in store.items:
                raise ApiError(422, f"unknown item {record['id']}", "validation_error")
        updated = []
        for record in records:
            item = store.items[int_field(record, "id")]
            changes = {k: record[k] for k in ITEM_FIELDS
                       if k in record and record[k] is not None and record[k] != item.get(k)}
            item.update(changes)
            item["updatedAt"] = iso(store.now())
            sb.record("item.updated", itemId=item["id"], changes=changes)
            updated.append(public(item))
    return jsonify(single_page(updated))


@bp.post("/rest/items/<int:item_id>/variations")
def post_variation(item_id: int) -> Response:
    sb = sandbox()
    body = as_object(json_body())
    with sb.store.lock:
        if item_id not in sb.store.items:
            raise not_found(f"item {item_id}")
        check_variation(sb.store, body)
        variation = create_variation(sb.store, item_id, body, is_main=False)
        _record_variation(sb.store, variation)
        return jsonify(variation_view(sb.store, variation, set()))


@bp.get("/rest/items/variations")
def search_variations() -> Response:
    return _variation_page(None)


@bp.get("/rest/items/<int:item_id>/variations")
def item_variations(item_id: int) -> Response:
    return _variation_page(item_id)


def _variation_page(item_id: int | None) -> Response:
    sb = sandbox()
    store = sb.store
    page, per_page = paging(sb.config.max_items_per_page)
    relations = set(query_list("with"))
    ids = query_ints("id")
    item_ids = [item_id] if item_id is not None else query_ints("itemId")
    tag_ids = query_ints("variationTagId")
    category_ids = query_ints("categoryId")
    stock_warehouse = query_ints("stockWarehouseId")
    number_exact = request.args.get("numberExact")
    number_fuzzy = request.args.get("numberFuzzy")
    barcode = request.args.get("barcode")
    is_active = query_bool("isActive")
    is_main = query_bool("isMain")
    updated = query_between("updatedBetween")
    created = query_between("createdBetween")
    related = query_between("relatedUpdatedBetween")
    with store.lock:
        if number_exact is not None:
            found = store.variation_by_number.get(number_exact)
            candidates = [found] if found is not None else []
        elif barcode is not None:
            candidates = sorted(store.variations_by_code.get(barcode, ()))
        elif ids is not None:
            candidates = sorted(set(ids))
        else:
            candidates = list(store.variations)
        tagged: set[int] | None = None
        if tag_ids is not None:
            tagged = {
                int(value) for (tag_id, kind, value) in store.tag_relationships
                if kind == "variation" and tag_id in tag_ids and value.isdigit()
            }
        selected: list[Record] = []
        for vid in candidates:
            variation = store.variations.get(vid)
            if variation is None:
                continue
            if ids is not None and vid not in ids:
                continue
            if item_ids is not None and variation["itemId"] not in item_ids:
                continue
            if tagged is not None and vid not in tagged:
                continue
            if is_active is not None and bool(variation["isActive"]) != is_active:
                continue
            if is_main is not None and variation["isMain"] != is_main:
                continue
            if number_fuzzy and number_fuzzy not in variation["number"]:
                continue
            if category_ids is not None and not (
                set(store.variation_categories.get(vid, {})) & set(category_ids)
            ):
                continue
            if stock_warehouse is not None and not any(
                wid in stock_warehouse and s["stockPhysical"] > 0
                for wid, s in store.stock.get(vid, {}).items()
            ):
                continue
            if not _within(variation["_updatedTs"], updated):
                continue
            if not _within(variation["_createdTs"], created):
                continue
            if not _within(variation["_relatedUpdatedTs"], related):
                continue
            selected.append(variation)
        window = envelope(selected, page, per_page)
        window["entries"] = [variation_view(store, v, relations) for v in window["entries"]]
    return jsonify(window)


def _within(ts: float, between: tuple[float, float] | None) -> bool:
    return between is None or between[0] <= ts <= between[1]


@bp.put("/rest/items/variations")
def bulk_update_variations() -> Response:
    sb = sandbox()
    records = bulk_records(json_body(), sb.config.bulk_limit)
    store = sb.store
    with store.lock:
        for record in records:
            require(record, "id")
            vid = int_field(record, "id")
            if vid not in store.variations:
                raise ApiError(422, f"unknown variation {vid}", "validation_error")
            number = record.get("number")
            if number not in (None, ""):
                owner = store.variation_by_number.get(str(number))
                if owner is not None and owner != vid:
                    raise ApiError(422, f"the variation number {number} is already in use",
                                   "duplicate_variation_number")
        updated = []
        for record in records:
            variation = store.variations[int_field(record, "id")]
            changes: dict[str, Any] = {}
            for name in ("number", "externalId", "model", "name", "isActive", "position",
                         "availability", "purchasePrice", "weightG", "customsTariffNumber"):
                if name in record and record[name] != variation.get(name):
                    changes[name] = record[name]
            if "number" in changes:
                store.variation_by_number.pop(variation["number"], None)
                changes["number"] = str(changes["number"])
                store.variation_by_number[changes["number"]] = variation["id"]
            variation.update(changes)
            store.touch_variation(variation["id"], related=False)
            sb.record("variation.updated", variationId=variation["id"], changes=changes)
            updated.append(variation_view(store, variation, set()))
    return jsonify(single_page(updated))


@bp.get("/rest/items/<int:item_id>/variations/<int:variation_id>/variation_barcodes")
def list_barcodes(item_id: int, variation_id: int) -> Response:
    store = sandbox().store
    with store.lock:
        _variation_of(store, item_id, variation_id)
        barcodes = [dict(b) for b in store.variation_barcodes.get(variation_id, [])]
        if "barcode" in query_list("with"):
            for b in barcodes:
                b["barcode"] = public(store.barcode_types[b["barcodeId"]])
    return jsonify(barcodes)


@bp.post("/rest/items/<int:item_id>/variations/<int:variation_id>/variation_barcodes")
def post_barcode(item_id: int, variation_id: int) -> Response:
    sb = sandbox()
    body = as_object(json_body())
    with sb.store.lock:
        _variation_of(sb.store, item_id, variation_id)
        require(body, "barcodeId", "code")
        check_barcode(sb.store, body)
        record = add_barcode(sb.store, variation_id, body)
        sb.record("barcode.created", variationId=variation_id, barcodeId=record["barcodeId"],
                  code=record["code"])
    return jsonify(record)


def _variation_of(store: Store, item_id: int, variation_id: int) -> Record:
    variation = store.variations.get(variation_id)
    if variation is None or variation["itemId"] != item_id:
        raise not_found(f"variation {variation_id} of item {item_id}")
    return variation


@bp.get("/rest/items/variations/variation_sales_prices")
def list_variation_prices() -> Response:
    sb = sandbox()
    store = sb.store
    page, per_page = paging(sb.config.max_items_per_page)
    variation_ids = query_ints("variationId")
    price_ids = query_ints("salesPriceId")
    updated_at = request.args.get("updatedAt")
    from sandboxes.plentyone.http import parse_time

    since = parse_time(updated_at) if updated_at else None
    with store.lock:
        sources = (
            [store.variation_sales_prices.get(v, {}) for v in variation_ids]
            if variation_ids is not None else list(store.variation_sales_prices.values())
        )
        selected = [
            public(p) for prices in sources for p in prices.values()
            if (price_ids is None or p["salesPriceId"] in price_ids)
            and (since is None or p["_updatedTs"] >= since)
        ]
    window = envelope(selected, page, per_page)
    # The official description types this route's `entries` as an object, the shape PHP
    # gives a list it serialises with keys: {"0": {...}, "1": {...}}.
    window["entries"] = {str(i): e for i, e in enumerate(window["entries"])}
    return jsonify(window)


@bp.route("/rest/items/variations/variation_sales_prices", methods=["PUT", "POST"])
def bulk_prices() -> Response:
    sb = sandbox()
    store = sb.store
    records = bulk_records(json_body(), sb.config.bulk_limit)
    creating = request.method == "POST"
    with store.lock:
        for record in records:
            require(record, "variationId", "salesPriceId", "price")
            vid = int_field(record, "variationId")
            price_id = int_field(record, "salesPriceId")
            if vid not in store.variations:
                raise ApiError(422, f"unknown variation {vid}", "validation_error")
            if price_id not in store.sales_prices:
                raise ApiError(422, f"unknown sales price {price_id}", "validation_error")
            if creating and price_id in store.variation_sales_prices.get(vid, {}):
                raise ApiError(422, f"variation {vid} already has sales price {price_id}",
                               "duplicate_sales_price")
        answers = []
        for record in records:
            saved, previous = set_price(store, record)
            sb.record("price.set", variationId=saved["variationId"],
                      salesPriceId=saved["salesPriceId"], price=saved["price"],
                      previous=previous)
            answers.append(public(saved))
    return jsonify(single_page(answers))


@bp.route("/rest/items/variations/variation_properties", methods=["PUT", "POST"])
def bulk_properties() -> Response:
    sb = sandbox()
    store = sb.store
    records = bulk_records(json_body(), sb.config.bulk_limit)
    with store.lock:
        for record in records:
            require(record, "variationId", "propertyId")
            if int_field(record, "variationId") not in store.variations:
                raise ApiError(422, f"unknown variation {record['variationId']}",
                               "validation_error")
            if int_field(record, "propertyId") not in store.properties:
                raise ApiError(422, f"unknown property {record['propertyId']}",
                               "validation_error")
        answers = []
        for record in records:
            vid = int_field(record, "variationId")
            pid = int_field(record, "propertyId")
            existing = store.variation_properties[vid].get(pid)
            link_id = existing["id"] if existing else store.next_id("variation_property")
            ts = store.now()
            saved: Record = {
                "id": link_id, "variationId": vid, "propertyId": pid,
                "propertySelectionId": int(record.get("propertySelectionId") or 0),
                "valueInt": int(record.get("valueInt") or 0),
                "valueFloat": float(record.get("valueFloat") or 0),
                "valueFile": str(record.get("valueFile") or ""),
                "valueTexts": _value_texts(link_id, record),
                "createdAt": existing["createdAt"] if existing else iso(ts),
                "updatedAt": iso(ts),
            }
            store.variation_properties[vid][pid] = saved
            store.touch_variation(vid)
            sb.record("property.set", variationId=vid, propertyId=pid,
                      value=_property_value(saved))
            answers.append(saved)
    return jsonify(single_page(answers))


def _value_texts(link_id: int, record: dict[str, Any]) -> list[Record]:
    texts = record.get("valueTexts")
    if isinstance(texts, list):
        return [{"valueId": link_id, "lang": str(t.get("lang", "de")),
                 "value": str(t.get("value", ""))} for t in texts if isinstance(t, dict)]
    if record.get("value") is not None:
        return [{"valueId": link_id, "lang": str(record.get("lang") or "de"),
                 "value": str(record["value"])}]
    return []


def _property_value(saved: Record) -> Any:
    if saved["valueTexts"]:
        return saved["valueTexts"][0]["value"]
    return saved["valueInt"] or saved["valueFloat"] or saved["valueFile"] or None


@bp.route("/rest/items/variations/variation_categories", methods=["PUT", "POST"])
def bulk_categories() -> Response:
    sb = sandbox()
    store = sb.store
    records = bulk_records(json_body(), sb.config.bulk_limit)
    with store.lock:
        for record in records:
            require(record, "variationId", "categoryId")
            if int_field(record, "variationId") not in store.variations:
                raise ApiError(422, f"unknown variation {record['variationId']}",
                               "validation_error")
            if int_field(record, "categoryId") not in store.categories:
                raise ApiError(422, f"unknown category {record['categoryId']}",
                               "validation_error")
        answers = []
        for record in records:
            saved = link_category(store, record)
            sb.record("category.linked", variationId=saved["variationId"],
                      categoryId=saved["categoryId"])
            answers.append(saved)
    return jsonify(single_page(answers))
