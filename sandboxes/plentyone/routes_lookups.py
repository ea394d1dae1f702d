"""Barcode types, sales prices, attributes, categories, tags, properties, warehouses."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.wrappers import Response

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
    query_ints,
    query_list,
    require,
    single_page,
)
from sandboxes.plentyone.lookups import (
    add_attribute_value,
    attribute_record,
    category_record,
    tag_record,
)
from sandboxes.plentyone.state import sandbox
from sandboxes.plentyone.store import Record, iso

bp = Blueprint("plentyone_lookups", __name__)


def _stamp() -> dict[str, str]:
    now = iso(sandbox().store.now())
    return {"createdAt": now, "updatedAt": now}


def _page_of(records: list[Record]) -> Response:
    page, per_page = paging(sandbox().config.max_items_per_page)
    return jsonify(envelope([public(r) for r in records], page, per_page))


@bp.get("/rest/items/barcodes")
def list_barcode_types() -> Response:
    store = sandbox().store
    with store.lock:
        return _page_of(list(store.barcode_types.values()))


@bp.post("/rest/items/barcodes")
def post_barcode_type() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "name", "type")
    with sb.store.lock:
        bid = sb.store.next_id("barcode_type")
        record = {"id": bid, "name": str(body["name"]), "type": str(body["type"]),
                  **_stamp(), "referrers": []}
        sb.store.barcode_types[bid] = record
        sb.record("barcode_type.created", barcodeTypeId=bid, name=record["name"])
    return jsonify(record)


@bp.get("/rest/items/sales_prices")
def list_sales_prices() -> Response:
    store = sandbox().store
    with store.lock:
        return _page_of(list(store.sales_prices.values()))


@bp.post("/rest/items/sales_prices")
def post_sales_price() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    with sb.store.lock:
        sid = sb.store.next_id("sales_price")
        name = str(body.get("nameInternal") or body.get("name") or f"Sales price {sid}")
        record = {
            "id": sid, "position": int(body.get("position", sid) or sid),
            "minimumOrderQuantity": float(body.get("minimumOrderQuantity", 1) or 1),
            "type": str(body.get("type", "default")), "isCustomerPrice": False,
            "isDisplayedByDefault": True, "isLiveConversion": False, "interval": "none",
            **_stamp(),
            "names": [{"salesPriceId": sid, "lang": str(body.get("lang", "en")),
                       "nameInternal": name,
                       "nameExternal": str(body.get("nameExternal") or name)}],
        }
        sb.store.sales_prices[sid] = record
        sb.record("sales_price.created", salesPriceId=sid, name=name)
    return jsonify(record)


@bp.get("/rest/items/attributes")
def list_attributes() -> Response:
    store = sandbox().store
    with store.lock:
        records = [dict(a) for a in store.attributes.values()]
        if "values" in query_list("with"):
            for a in records:
                a["values"] = [public(v) for v in store.attribute_values.values()
                               if v["attributeId"] == a["id"]]
        return _page_of(records)


@bp.post("/rest/items/attributes")
def post_attribute() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "backendName")
    with sb.store.lock:
        name = str(body["backendName"])
        if any(a["backendName"] == name for a in sb.store.attributes.values()):
            raise ApiError(422, f"the attribute {name} exists already", "duplicate_name")
        aid = sb.store.next_id("attribute")
        record = attribute_record(aid, name, int(body.get("position", aid) or aid), _stamp())
        sb.store.attributes[aid] = record
        sb.record("attribute.created", attributeId=aid, backendName=name)
    return jsonify(record)


@bp.get("/rest/items/attributes/<int:attribute_id>/values")
def list_attribute_values(attribute_id: int) -> Response:
    store = sandbox().store
    with store.lock:
        if attribute_id not in store.attributes:
            raise not_found(f"attribute {attribute_id}")
        return _page_of([v for v in store.attribute_values.values()
                         if v["attributeId"] == attribute_id])


@bp.post("/rest/items/attributes/<int:attribute_id>/values")
def post_attribute_value(attribute_id: int) -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "backendName")
    with sb.store.lock:
        if attribute_id not in sb.store.attributes:
            raise not_found(f"attribute {attribute_id}")
        name = str(body["backendName"])
        if any(v["attributeId"] == attribute_id and v["backendName"] == name
               for v in sb.store.attribute_values.values()):
            raise ApiError(422, f"the value {name} exists already for attribute "
                           f"{attribute_id}", "duplicate_name")
        record = add_attribute_value(sb.store, attribute_id, name,
                                     int(body.get("position", 0) or 0))
        sb.record("attribute_value.created", attributeId=attribute_id, valueId=record["id"],
                  backendName=name)
    return jsonify(record)


@bp.get("/rest/categories")
def list_categories() -> Response:
    store = sandbox().store
    kind = request.args.get("type")
    parent = query_ints("parentId")
    name = request.args.get("name")
    with store.lock:
        records = [
            c for c in store.categories.values()
            if (kind is None or c["type"] == kind)
            and (parent is None or c.get("parentCategoryId") in parent)
            and (name is None or any(d["name"] == name for d in c["details"]))
        ]
        return _page_of(records)


@bp.post("/rest/categories")
def post_categories() -> Response:
    sb = sandbox()
    body = json_body()
    specs = body if isinstance(body, list) else [as_object(body)]
    created = []
    with sb.store.lock:
        for spec in specs:
            details = spec.get("details") if isinstance(spec.get("details"), list) else []
            name = str(spec.get("name") or (details[0].get("name") if details else "") or "")
            if not name:
                raise ApiError(422, "a category needs a name (details[].name)",
                               "validation_error")
            parent = spec.get("parentCategoryId")
            if parent is not None and int(parent) not in sb.store.categories:
                raise ApiError(422, f"unknown parent category {parent}", "validation_error")
            cid = sb.store.next_id("category")
            record = category_record(cid, name, int(parent) if parent is not None else None,
                                     str(spec.get("type", "item")), _stamp())
            sb.store.categories[cid] = record
            sb.record("category.created", categoryId=cid, name=name)
            created.append(record)
    return jsonify(created)


@bp.put("/rest/categories")
def put_categories() -> Response:
    sb = sandbox()
    body = json_body()
    specs = bulk_records(body, sb.config.bulk_limit)
    updated = []
    with sb.store.lock:
        for spec in specs:
            require(spec, "id")
            if int_field(spec, "id") not in sb.store.categories:
                raise ApiError(422, f"unknown category {spec['id']}", "validation_error")
        for spec in specs:
            record = sb.store.categories[int_field(spec, "id")]
            for name in ("linklist", "right", "sitemap", "type"):
                if spec.get(name) is not None:
                    record[name] = str(spec[name])
            for detail in spec.get("details") or []:
                if isinstance(detail, dict) and detail.get("name"):
                    record["details"][0]["name"] = str(detail["name"])
            if spec.get("name"):
                record["details"][0]["name"] = str(spec["name"])
            record["details"][0]["updatedAt"] = _stamp()["updatedAt"]
            sb.record("category.updated", categoryId=record["id"],
                      name=record["details"][0]["name"])
            updated.append(record)
    return jsonify(updated)


@bp.get("/rest/tags")
def list_tags() -> Response:
    store = sandbox().store
    name = request.args.get("tagName")
    with store.lock:
        return _page_of([t for t in store.tags.values() if name is None or t["name"] == name])


@bp.post("/rest/tags")
def post_tag() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    name = str(request.args.get("tagName") or body.get("tagName") or "")
    if not name:
        raise ApiError(422, "missing required field(s): tagName", "validation_error")
    with sb.store.lock:
        tid = sb.store.next_id("tag")
        record = tag_record(tid, name, str(body.get("color", "#cccccc")))
        sb.store.tags[tid] = record
        sb.record("tag.created", tagId=tid, name=name)
    return jsonify(record)


def _relationship(record: Record) -> Record:
    return {"tagId": record["tagId"], "type": record["type"], "value": record["value"],
            "createdAt": record["createdAt"]}


@bp.get("/rest/tags/relationships")
def list_relationships() -> Response:
    store = sandbox().store
    tag_ids = query_ints("tagId")
    kind = request.args.get("tagType")
    value = request.args.get("relationshipValue")
    with store.lock:
        records = [
            _relationship(r) for r in store.tag_relationships.values()
            if (tag_ids is None or r["tagId"] in tag_ids)
            and (kind is None or r["type"] == kind)
            and (value is None or r["value"] == value)
        ]
    page, per_page = paging(sandbox().config.max_items_per_page)
    return jsonify(envelope(records, page, per_page))


@bp.post("/rest/tags/relationships")
def post_relationships() -> Response:
    sb = sandbox()
    body = json_body()
    many = isinstance(body, list)
    records = bulk_records(body, sb.config.bulk_limit)
    store = sb.store
    answers = []
    with store.lock:
        for record in records:
            require(record, "tagId", "tagType", "relationshipValue")
            if int_field(record, "tagId") not in store.tags:
                raise ApiError(422, f"unknown tag {record['tagId']}", "validation_error")
            if record["tagType"] == "variation" and (
                int_field(record, "relationshipValue") not in store.variations
            ):
                raise ApiError(422, f"unknown variation {record['relationshipValue']}",
                               "validation_error")
        for record in records:
            key = (int_field(record, "tagId"), str(record["tagType"]),
                   str(record["relationshipValue"]))
            existing = store.tag_relationships.get(key)
            if existing is None:
                existing = store.tag_relationships[key] = {
                    "tagId": key[0], "type": key[1], "value": key[2],
                    "createdAt": iso(store.now()),
                }
                sb.record("tag.linked", tagId=key[0], tagType=key[1], value=key[2])
                if key[1] == "variation":
                    store.touch_variation(int(key[2]))
            answers.append(_relationship(existing))
    return jsonify(answers if many else answers[0])


@bp.delete("/rest/tags/relationships")
def delete_relationships() -> Response:
    sb = sandbox()
    records = bulk_records(json_body() or [], sb.config.bulk_limit)
    removed = []
    with sb.store.lock:
        for record in records:
            require(record, "tagId", "tagType", "relationshipValue")
            key = (int_field(record, "tagId"), str(record["tagType"]),
                   str(record["relationshipValue"]))
            existing = sb.store.tag_relationships.pop(key, None)
            if existing is not None:
                sb.record("tag.unlinked", tagId=key[0], tagType=key[1], value=key[2])
                removed.append(_relationship(existing))
    return jsonify(single_page(removed))


@bp.get("/rest/properties")
def list_properties() -> Response:
    store = sandbox().store
    with store.lock:
        return jsonify([public(p) for p in store.properties.values()])


@bp.post("/rest/properties")
def post_property() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    cast = str(request.args.get("cast") or body.get("cast") or "")
    if not cast:
        raise ApiError(422, "missing required field(s): cast", "validation_error")
    with sb.store.lock:
        pid = sb.store.next_id("property")
        record = {
            "id": pid, "cast": cast,
            "type": str(request.args.get("typeIdentifier") or body.get("typeIdentifier")
                        or "item"),
            "position": int(request.args.get("position") or body.get("position") or pid),
            **_stamp(), "names": body.get("names") or [],
        }
        sb.store.properties[pid] = record
        sb.record("property.created", propertyId=pid, cast=cast)
    return jsonify(record)


@bp.get("/rest/stockmanagement/warehouses")
def list_warehouses() -> Response:
    store = sandbox().store
    with store.lock:
        # The description types this answer as a Collection (an object), so the warehouses
        # come in the page envelope.
        return jsonify(single_page([public(w) for w in store.warehouses.values()]))


@bp.post("/rest/stockmanagement/warehouses")
def post_warehouse() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "name")
    with sb.store.lock:
        wid = sb.store.next_id("warehouse")
        record = {
            "id": wid, "name": str(body["name"]), "note": str(body.get("note", "")),
            "typeId": int(body.get("typeId", 0) or 0), "priority": wid,
            "onStockAvailability": 1, "outOfStockAvailability": 7,
            "splitByShippingProfile": False, "storageLocationType": "none",
            "storageLocationZone": 0, "repairWarehouseId": 0, "isInventoryModeActive": False,
            "logisticsType": str(body.get("logisticsType", "own")), **_stamp(),
        }
        sb.store.warehouses[wid] = record
        sb.record("warehouse.created", warehouseId=wid, name=record["name"])
    return jsonify(record)

