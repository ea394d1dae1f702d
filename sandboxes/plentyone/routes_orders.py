"""Orders: get, search, update status and properties, cancel, packages, returns, lookups."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.wrappers import Response

from sandboxes.plentyone.http import (
    ApiError,
    as_object,
    envelope,
    int_field,
    json_body,
    not_found,
    paging,
    parse_time,
    public,
    query_bool,
    query_ints,
    query_list,
    query_numbers,
    require,
)
from sandboxes.plentyone.lookups import order_status_record
from sandboxes.plentyone.order_ops import (
    ORDER_TYPE_RETURN,
    PROPERTY_RETURN_REASON,
    change_status,
    check_status,
    new_order,
    order_item,
    order_view,
    set_property,
    touch,
)
from sandboxes.plentyone.state import sandbox
from sandboxes.plentyone.store import Record, Store, iso

bp = Blueprint("plentyone_orders", __name__)


def _order(store: Store, order_id: int) -> Record:
    order = store.orders.get(order_id)
    if order is None:
        raise not_found(f"order {order_id}")
    return order


@bp.get("/rest/orders/<int:order_id>")
def get_order(order_id: int) -> Response:
    store = sandbox().store
    add_items = query_bool("addOrderItems")
    with store.lock:
        order = _order(store, order_id)
        return jsonify(order_view(store, order, set(query_list("with")), add_items is not False))


@bp.put("/rest/orders/<int:order_id>")
def update_order(order_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    with store.lock:
        order = _order(store, order_id)
        status = check_status(store, body["statusId"]) if body.get("statusId") is not None \
            else None
        properties = body.get("properties") or []
        if not isinstance(properties, list):
            raise ApiError(422, "properties must be a list", "validation_error")
        for prop in properties:
            if not isinstance(prop, dict):
                raise ApiError(422, "every property must be an object", "validation_error")
            require(prop, "typeId")
        if properties:
            for prop in properties:
                set_property(order, int_field(prop, "typeId"), str(prop.get("value", "")))
            touch(store, order)
            sb.record("order.properties_set", orderId=order_id,
                      properties=[{"typeId": int_field(p, "typeId"),
                                   "value": str(p.get("value", ""))} for p in properties])
        previous = change_status(store, order, status) if status is not None else None
        if previous is not None:
            sb.record("order.status_changed", orderId=order_id, previous=previous,
                      statusId=status)
        view = order_view(store, order, set(query_list("with")))
    if previous is not None:
        sb.events.status_changed(order_id, previous, float(status or 0))
    return jsonify(view)


@bp.delete("/rest/orders/<int:order_id>")
def delete_order(order_id: int) -> Response:
    sb = sandbox()
    with sb.store.lock:
        _order(sb.store, order_id)
        del sb.store.orders[order_id]
        sb.record("order.deleted", orderId=order_id)
    return jsonify({})


@bp.put("/rest/orders/<int:order_id>/cancel")
def cancel_order(order_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    with store.lock:
        order = _order(store, order_id)
        status = check_status(store, body.get("statusId", 8))
        previous = change_status(store, order, status)
        sb.record("order.cancelled", orderId=order_id, statusId=status,
                  previous=previous if previous is not None else status,
                  message=str(body.get("message", "")))
        view = order_view(store, order, set())
    if previous is not None:
        sb.events.status_changed(order_id, previous, status)
    return jsonify(view)


@bp.route("/rest/orders/search", methods=["GET", "POST"])
def search_orders() -> Response:
    sb = sandbox()
    store = sb.store
    page, per_page = paging(sb.config.max_items_per_page)
    filters = _order_filters()
    relations = set(query_list("with"))
    descending = request.args.get("sortOrder", "asc").lower() == "desc"
    sort_by = request.args.get("sortBy", "orderId")
    with store.lock:
        selected = [o for o in store.orders.values() if all(f(o) for f in filters)]
        key = {"statusId": lambda o: (o["statusId"], o["id"]),
               "createdAt": lambda o: (o["_createdTs"], o["id"]),
               "updatedAt": lambda o: (o["_updatedTs"], o["id"])}.get(sort_by,
                                                                        lambda o: o["id"])
        selected.sort(key=key, reverse=descending)
        window = envelope(selected, page, per_page)
        window["entries"] = [order_view(store, o, relations) for o in window["entries"]]
    return jsonify(window)


def _order_filters() -> list[Any]:
    filters: list[Any] = []
    ids = query_ints("orderId")
    if ids is not None:
        filters.append(lambda o: o["id"] in ids)
    statuses = query_numbers("statusId")
    if statuses is not None:
        wanted = {round(s, 2) for s in statuses}
        filters.append(lambda o: o["statusId"] in wanted)
    status_from = request.args.get("statusFrom")
    if status_from is not None:
        filters.append(lambda o: o["statusId"] >= float(status_from))
    status_to = request.args.get("statusTo")
    if status_to is not None:
        filters.append(lambda o: o["statusId"] <= float(status_to))
    types = query_ints("orderTypeId")
    if types is not None:
        filters.append(lambda o: o["typeId"] in types)
    referrers = query_numbers("referrerId")
    if referrers is not None:
        filters.append(lambda o: o["referrerId"] in referrers)
    plenty_ids = query_ints("plentyId")
    if plenty_ids is not None:
        filters.append(lambda o: o["plentyId"] in plenty_ids)
    variation_ids = query_ints("itemVariationId")
    if variation_ids is not None:
        filters.append(lambda o: any(i["itemVariationId"] in variation_ids
                                     for i in o["orderItems"]))
    package = request.args.get("packageNumber")
    if package is not None:
        store = sandbox().store
        filters.append(lambda o: any(p["packageNumber"] == package
                                     for p in store.shipping_packages.get(o["id"], [])))
    for name, field in (("updatedAtFrom", "_updatedTs"), ("createdAtFrom", "_createdTs")):
        if request.args.get(name):
            since = parse_time(request.args[name])
            filters.append(lambda o, f=field, s=since: o[f] >= s)
    for name, field in (("updatedAtTo", "_updatedTs"), ("createdAtTo", "_createdTs")):
        if request.args.get(name):
            until = parse_time(request.args[name])
            filters.append(lambda o, f=field, u=until: o[f] <= u)
    for arg, value in request.args.items():
        if arg.startswith("orderProperty_"):
            type_id = int(arg.split("_", 1)[1])
            filters.append(lambda o, t=type_id, v=value: any(
                p["typeId"] == t and p["value"] == v for p in o["properties"]))
        if arg.startswith("orderReference_"):
            kind = arg.split("_", 1)[1]
            filters.append(lambda o, k=kind, v=value: any(
                r["referenceType"] == k and str(r["referenceOrderId"]) == v
                for r in o["orderReferences"]))
    return filters


@bp.get("/rest/orders/<int:order_id>/shipping/packages")
def list_packages(order_id: int) -> Response:
    store = sandbox().store
    with store.lock:
        _order(store, order_id)
        return jsonify([dict(p) for p in store.shipping_packages.get(order_id, [])])


@bp.post("/rest/orders/<int:order_id>/shipping/packages")
def post_package(order_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    with store.lock:
        order = _order(store, order_id)
        ts = iso(store.now())
        package = {
            "id": store.next_id("shipping_package"), "orderId": order_id,
            "packageId": int(body.get("packageId", 1) or 1),
            "weight": int(body.get("weight", 0) or 0),
            "packageNumber": str(body.get("packageNumber", "")),
            "labelPath": str(body.get("labelPath", "")),
            "returnPackageNumber": str(body.get("returnPackageNumber", "")),
            "packageType": int(body.get("packageType", 0) or 0),
            "volume": float(body.get("volume", 0) or 0), "isClosed": False,
            "createdAt": ts, "updatedAt": ts,
        }
        store.shipping_packages[order_id].append(package)
        touch(store, order)
        sb.record("order.shipping_package_created", orderId=order_id,
                  packageNumber=package["packageNumber"], packageId=package["packageId"])
    return jsonify(package)


@bp.delete("/rest/orders/<int:order_id>/shipping/packages")
def delete_packages(order_id: int) -> Response:
    sb = sandbox()
    with sb.store.lock:
        _order(sb.store, order_id)
        removed = sb.store.shipping_packages.pop(order_id, [])
        sb.record("order.shipping_packages_deleted", orderId=order_id, count=len(removed))
    return jsonify({})


@bp.post("/rest/orders/<int:order_id>/returns")
def create_return(order_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    quantities = body.get("quantities")
    if not isinstance(quantities, list) or not quantities:
        raise ApiError(422, "missing required field(s): quantities", "validation_error")
    with store.lock:
        parent = _order(store, order_id)
        if parent["typeId"] == ORDER_TYPE_RETURN:
            raise ApiError(422, "a return cannot be made from a return", "validation_error")
        items = {i["id"]: i for i in parent["orderItems"]}
        for entry in quantities:
            if not isinstance(entry, dict):
                raise ApiError(422, "every quantity must be an object", "validation_error")
            require(entry, "orderItemId", "quantity")
            source = items.get(int_field(entry, "orderItemId"))
            if source is None:
                raise ApiError(422, f"order {order_id} has no item {entry['orderItemId']}",
                               "validation_error")
            if float(entry["quantity"]) <= 0 or float(entry["quantity"]) > source["quantity"]:
                raise ApiError(422, f"bad quantity for order item {source['id']}",
                               "validation_error")
        properties = list(body.get("properties") or [])
        reason = body.get("returnReasonId")
        if reason is not None:
            if int(reason) not in store.return_reasons:
                raise ApiError(422, f"unknown return reason {reason}", "validation_error")
            properties.append({"typeId": PROPERTY_RETURN_REASON, "value": str(int(reason))})
        warehouse = int(body.get("warehouseId") or parent.get("warehouseSenderId") or 1)
        ret = new_order(store, {
            "typeId": ORDER_TYPE_RETURN, "statusId": body.get("statusId", 9),
            "referrerId": parent["referrerId"], "plentyId": parent["plentyId"],
            "warehouseId": warehouse, "properties": properties,
        })
        for position, entry in enumerate(quantities):
            source = items[int_field(entry, "orderItemId")]
            variation = store.variations.get(source["itemVariationId"]) or {
                "id": source["itemVariationId"], "number": source["_variationNumber"]}
            line = order_item(store, ret, variation, float(entry["quantity"]),
                              source["amounts"][0]["priceGross"], position, warehouse,
                              source["orderItemName"])
            line["references"] = [{"orderItemId": line["id"], "referenceOrderItemId":
                                   source["id"], "referenceType": "parent"}]
            ret["orderItems"].append(line)
        ret["orderReferences"].append({
            "orderId": ret["id"], "originOrderId": order_id, "referenceOrderId": order_id,
            "referenceType": "parent"})
        ret["relations"].append({"orderId": ret["id"], "referenceType": "order",
                                 "referenceId": order_id, "relation": "parent"})
        if body.get("returnPackageNumber"):
            set_property(ret, 14, str(body["returnPackageNumber"]))
        sb.record("order.return_created", orderId=ret["id"], parentOrderId=order_id,
                  quantities=[{"orderItemId": int_field(q, "orderItemId"),
                               "quantity": float(q["quantity"])} for q in quantities],
                  reason=next((p["value"] for p in ret["properties"]
                               if p["typeId"] == PROPERTY_RETURN_REASON), None))
        view = order_view(store, ret, set())
    sb.events.order_created(ret["id"])
    return jsonify(view)


@bp.get("/rest/orders/referrers")
def list_referrers() -> Response:
    store = sandbox().store
    columns = query_list("columns")
    with store.lock:
        records = [public(r) for r in store.referrers.values()]
    if columns:
        records = [{k: v for k, v in r.items() if k in columns or k == "id"} for r in records]
    return jsonify(records)


@bp.get("/rest/orders/statuses")
def list_statuses() -> Response:
    sb = sandbox()
    page, per_page = paging(sb.config.max_items_per_page)
    low = request.args.get("statusIdFrom")
    high = request.args.get("statusIdTo")
    with sb.store.lock:
        records = [
            public(s) for sid, s in sorted(sb.store.order_statuses.items())
            if (low is None or sid >= float(low)) and (high is None or sid <= float(high))
        ]
    return jsonify(envelope(records, page, per_page))


@bp.post("/rest/orders/statuses")
def post_status() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "statusId")
    status_id = round(float(body["statusId"]), 2)
    raw_names = body.get("names")
    names: dict[str, object] = raw_names if isinstance(raw_names, dict) else {}
    with sb.store.lock:
        if status_id in sb.store.order_statuses:
            raise ApiError(422, f"order status {status_id} exists already", "duplicate_status")
        now = iso(sb.store.now())
        record = order_status_record(status_id, {str(k): str(v) for k, v in names.items()}
                                     or {"en": f"Status {status_id}"},
                                     {"createdAt": now, "updatedAt": now})
        sb.store.order_statuses[status_id] = record
        sb.record("order_status.created", statusId=status_id)
    return jsonify(record)


@bp.get("/rest/returns/reasons")
def list_return_reasons() -> Response:
    store = sandbox().store
    with store.lock:
        return jsonify([dict(r) for r in store.return_reasons.values()])


@bp.post("/rest/returns/reasons")
def post_return_reason() -> Response:
    sb = sandbox()
    body = as_object(json_body())
    require(body, "reason")
    with sb.store.lock:
        rid = sb.store.next_id("return_reason", max(sb.store.return_reasons, default=0) + 1)
        sb.store.return_reasons[rid] = {"id": rid, "reason": str(body["reason"])}
        sb.record("return_reason.created", reasonId=rid, reason=str(body["reason"]))
        return jsonify([dict(r) for r in sb.store.return_reasons.values()])
