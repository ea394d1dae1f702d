"""Orders: creating them (admin, returns), showing them, changing their status.

Callers hold `store.lock`. Status changes and new orders notify the event dispatcher, which
delivers outside the lock.
"""

from __future__ import annotations

from typing import Any

from sandboxes.plentyone.http import ApiError, int_field, number_field, public
from sandboxes.plentyone.lookups import PLENTY_ID
from sandboxes.plentyone.store import Record, Store, iso

ORDER_TYPE_SALES = 1
ORDER_TYPE_RETURN = 3
PROPERTY_RETURN_REASON = 35
PROPERTY_EXTERNAL_ORDER_ID = 7
DATE_CREATED = 2
LEGACY_TYPES = {1: "order", 3: "return"}


def status_name(store: Store, status_id: float) -> str:
    status = store.order_statuses.get(float(status_id))
    if status is None:
        return ""
    return str(status["names"].get("en") or next(iter(status["names"].values()), ""))


def check_status(store: Store, status_id: Any) -> float:
    try:
        value = round(float(status_id), 2)
    except (TypeError, ValueError):
        raise ApiError(422, f"not an order status id: {status_id!r}", "validation_error") \
            from None
    if value not in store.order_statuses:
        raise ApiError(422, f"unknown order status {value}", "validation_error")
    return value


def resolve_variation(store: Store, line: dict[str, Any]) -> Record:
    """A line names its variation by id, by SPoCC ID (barcode / number) or by number."""
    if line.get("variationId") is not None:
        variation = store.variations.get(int_field(line, "variationId"))
    elif line.get("spoccId") is not None:
        code = str(line["spoccId"])
        ids = sorted(store.variations_by_code.get(code, ()))
        found = ids[0] if ids else store.variation_by_number.get(code)
        variation = store.variations.get(found) if found is not None else None
    elif line.get("number") is not None:
        found = store.variation_by_number.get(str(line["number"]))
        variation = store.variations.get(found) if found is not None else None
    else:
        raise ApiError(422, "a line needs variationId, spoccId or number", "validation_error")
    if variation is None:
        raise ApiError(422, f"no variation for line {line}", "validation_error")
    return variation


def new_order(store: Store, spec: dict[str, Any]) -> Record:
    ts = store.now()
    order_id = store.next_id("order", 1000)
    type_id = int(spec.get("typeId", ORDER_TYPE_SALES))
    status_id = check_status(store, spec.get("statusId", 5))
    referrer_id = float(spec.get("referrerId", 1))
    if referrer_id not in store.referrers:
        raise ApiError(422, f"unknown referrer {referrer_id}", "validation_error")
    warehouse_id = int(spec.get("warehouseId", 1))
    if warehouse_id not in store.warehouses:
        raise ApiError(422, f"unknown warehouse {warehouse_id}", "validation_error")
    order: Record = {
        "id": order_id, "typeId": type_id, "statusId": status_id,
        "statusName": status_name(store, status_id), "ownerId": 0, "referrerId": referrer_id,
        "createdAt": iso(ts), "updatedAt": iso(ts), "plentyId": int(spec.get("plentyId",
                                                                              PLENTY_ID)),
        "locationId": 1, "roundTotalsOnly": False, "numberOfDecimals": 2,
        "lockStatus": "unlocked", "isLocked": False, "hasTaxRelevantDocuments": False,
        "hasDeliveryOrders": False, "legacyOrderType": LEGACY_TYPES.get(type_id, "order"),
        "warehouseSenderId": warehouse_id, "_createdTs": ts, "_updatedTs": ts,
        "orderItems": [], "properties": [], "addressRelations": [], "relations": [],
        "orderReferences": [], "dates": [{"orderId": order_id, "typeId": DATE_CREATED,
                                          "date": iso(ts)}],
        "_addresses": [], "statusHistory": [{"statusId": status_id, "createdAt": iso(ts)}],
    }
    lines = spec.get("lines") or spec.get("orderItems") or []
    if not isinstance(lines, list):
        raise ApiError(422, "lines must be a list", "validation_error")
    for position, line in enumerate(lines):
        if not isinstance(line, dict):
            raise ApiError(422, "every line must be an object", "validation_error")
        variation = resolve_variation(store, line)
        order["orderItems"].append(order_item(
            store, order, variation, float(line.get("quantity", 1)),
            number_field(line, "price") if line.get("price") is not None else 0.0,
            position, warehouse_id, str(line.get("name") or variation.get("name") or
                                        variation["number"]),
        ))
    for prop in spec.get("properties") or []:
        set_property(order, int_field(prop, "typeId"), str(prop.get("value", "")))
    _add_addresses(store, order, spec.get("addresses"))
    order["relations"].append({"orderId": order_id, "referenceType": "warehouse",
                               "referenceId": warehouse_id, "relation": "sender"})
    order["amounts"] = [_order_amount(order)]
    store.orders[order_id] = order
    return order


def order_item(store: Store, order: Record, variation: Record, quantity: float, price: float,
               position: int, warehouse_id: int, name: str) -> Record:
    item_id = store.next_id("order_item", 5000)
    ts = iso(store.now())
    net = round(price / 1.19, 2)
    return {
        "id": item_id, "orderId": order["id"], "typeId": 1, "referrerId": order["referrerId"],
        "itemVariationId": variation["id"], "quantity": quantity, "orderItemName": name,
        "attributeValues": "", "shippingProfileId": 0, "countryVatId": 1, "vatField": 0,
        "vatRate": 19.0, "position": position, "warehouseId": warehouse_id,
        "createdAt": ts, "updatedAt": ts,
        "amounts": [{
            "id": item_id, "orderItemId": item_id, "isSystemCurrency": True, "currency": "EUR",
            "exchangeRate": 1.0, "purchasePrice": 0.0, "priceOriginalGross": price,
            "priceOriginalNet": net, "priceGross": price, "priceNet": net, "surcharge": 0.0,
            "discount": 0.0, "isPercentage": False,
        }],
        "properties": [], "references": [],
        "_variationNumber": variation["number"],
    }


def _order_amount(order: Record) -> Record:
    gross = round(sum(i["amounts"][0]["priceGross"] * i["quantity"]
                      for i in order["orderItems"]), 2)
    return {"orderId": order["id"], "isSystemCurrency": True, "isNet": False,
            "currency": "EUR", "exchangeRate": 1.0, "netTotal": round(gross / 1.19, 2),
            "grossTotal": gross, "vatTotal": round(gross - gross / 1.19, 2),
            "invoiceTotal": gross, "paidAmount": 0.0}


def _add_addresses(store: Store, order: Record, addresses: Any) -> None:
    if not addresses:
        return
    if isinstance(addresses, dict):
        named = {"billing": 1, "delivery": 2}
        addresses = [dict(a, typeId=named[k]) for k, a in addresses.items() if k in named]
    for spec in addresses:
        address_id = store.next_id("address", 700)
        type_id = int(spec.get("typeId", 1))
        address = {
            "id": address_id, "gender": str(spec.get("gender", "female")),
            "name1": str(spec.get("company", spec.get("name1", ""))),
            "name2": str(spec.get("firstName", spec.get("name2", ""))),
            "name3": str(spec.get("lastName", spec.get("name3", ""))),
            "address1": str(spec.get("street", spec.get("address1", ""))),
            "address2": str(spec.get("houseNumber", spec.get("address2", ""))),
            "address3": str(spec.get("address3", "")),
            "postalCode": str(spec.get("postalCode", "")), "town": str(spec.get("town", "")),
            "countryId": int(spec.get("countryId", 1)),
            "options": [o for o in (
                {"typeId": 5, "value": str(spec["email"])} if spec.get("email") else None,
                {"typeId": 4, "value": str(spec["phone"])} if spec.get("phone") else None,
            ) if o],
            "pivot": {"orderId": order["id"], "addressId": address_id, "typeId": type_id},
        }
        order["_addresses"].append(address)
        order["addressRelations"].append({"orderId": order["id"], "typeId": type_id,
                                          "addressId": address_id})


def set_property(order: Record, type_id: int, value: str) -> None:
    for prop in order["properties"]:
        if prop["typeId"] == type_id:
            prop["value"] = value
            return
    order["properties"].append({"orderId": order["id"], "typeId": type_id, "value": value})


def touch(store: Store, order: Record) -> None:
    ts = store.now()
    order["_updatedTs"] = ts
    order["updatedAt"] = iso(ts)


def change_status(store: Store, order: Record, status_id: float) -> float | None:
    """Set the status; answers the previous one when it changed, else None."""
    previous = float(order["statusId"])
    if previous == status_id:
        return None
    order["statusId"] = status_id
    order["statusName"] = status_name(store, status_id)
    order["statusHistory"].append({"statusId": status_id, "createdAt": iso(store.now())})
    touch(store, order)
    return previous


def order_view(store: Store, order: Record, relations: set[str], add_items: bool = True) -> Record:
    view = public(order)
    view["orderItems"] = [public(i) for i in order["orderItems"]] if add_items else []
    if not add_items:
        view.pop("orderItems")
    wants_variation = "orderItems.variation" in relations
    wants_barcodes = "orderItems.variationBarcodes" in relations
    if add_items and (wants_variation or wants_barcodes):
        for item, source in zip(view["orderItems"], order["orderItems"], strict=True):
            variation = store.variations.get(source["itemVariationId"])
            if variation is None:
                continue
            if wants_variation:
                item["variation"] = public(variation)
            if wants_barcodes:
                item["variationBarcodes"] = [dict(b) for b in
                                             store.variation_barcodes.get(variation["id"], [])]
    if "addresses" in relations:
        view["addresses"] = [dict(a) for a in order["_addresses"]]
    if "shippingPackages" in relations:
        view["shippingPackages"] = [dict(p) for p in store.shipping_packages.get(order["id"], [])]
    return view
