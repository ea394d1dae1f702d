"""Stock corrections (absolute quantities per warehouse) and item images."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from flask import Blueprint, jsonify
from flask.wrappers import Response

from sandboxes.plentyone.http import (
    ApiError,
    as_object,
    int_field,
    json_body,
    not_found,
    number_field,
    public,
    require,
)
from sandboxes.plentyone.state import sandbox
from sandboxes.plentyone.store import Record, iso

bp = Blueprint("plentyone_stock_images", __name__)

# Reason ids of the correction booking: 301 and up (301 plain correction, 302 stocktaking…).
CORRECTION_REASONS = range(301, 400)


@bp.put("/rest/stockmanagement/warehouses/<int:warehouse_id>/stock/correction")
def correct_stock(warehouse_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    corrections = body.get("corrections")
    if corrections is None and "quantity" in body:
        corrections = [body]
    if not isinstance(corrections, list) or not corrections:
        raise ApiError(422, "missing required field(s): corrections", "validation_error")
    with store.lock:
        if warehouse_id not in store.warehouses:
            raise not_found(f"warehouse {warehouse_id}")
        for correction in corrections:
            if not isinstance(correction, dict):
                raise ApiError(422, "every correction must be a JSON object", "validation_error")
            require(correction, "variationId", "quantity")
            vid = int_field(correction, "variationId")
            if vid not in store.variations:
                raise ApiError(422, f"unknown variation {vid}", "validation_error")
            reason = int(correction.get("reasonId", 301) or 301)
            if reason not in CORRECTION_REASONS:
                raise ApiError(422, f"reason {reason} is not a stock correction reason "
                               "(301 and up)", "validation_error")
            if number_field(correction, "quantity") < 0:
                raise ApiError(422, "quantity must not be negative", "validation_error")
        answers = []
        for correction in corrections:
            vid = int_field(correction, "variationId")
            quantity = number_field(correction, "quantity")
            ts = store.now()
            record = store.stock[vid].get(warehouse_id)
            previous = record["stockPhysical"] if record else 0.0
            if record is None:
                record = store.stock[vid][warehouse_id] = {
                    "itemId": store.variations[vid]["itemId"], "variationId": vid,
                    "warehouseId": warehouse_id, "stockPhysical": 0.0, "reservedStock": 0.0,
                    "reservedEbay": 0.0, "reorderDelta": 0.0, "stockBackorder": 0.0,
                    "stockNet": 0.0, "reservedListing": 0.0, "reservedBundle": 0.0,
                    "warehouseAvailability": 1, "updatedAt": iso(ts),
                }
            record["stockPhysical"] = quantity
            record["stockNet"] = quantity - record["reservedStock"]
            record["updatedAt"] = iso(ts)
            store.touch_variation(vid)
            sb.record("stock.corrected", variationId=vid, warehouseId=warehouse_id,
                      quantity=quantity, previous=previous,
                      reasonId=int(correction.get("reasonId", 301) or 301),
                      storageLocationId=int(correction.get("storageLocationId", 0) or 0))
            answers.append(public(record))
    return jsonify(answers)


@bp.post("/rest/items/<int:item_id>/images/upload")
def upload_image(item_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    data = body.get("uploadImageData")
    url = body.get("uploadUrl")
    if not data and not url:
        raise ApiError(422, "give uploadUrl or uploadImageData", "validation_error")
    payload = _decode(data) if data else str(url).encode()
    file_name = str(body.get("uploadFileName") or (str(url).rsplit("/", 1)[-1] if url else ""))
    file_type = str(body.get("fileType") or file_name.rsplit(".", 1)[-1] or "jpg").lower()
    with store.lock:
        if item_id not in store.items:
            raise not_found(f"item {item_id}")
        image_id = store.next_id("image")
        ts = iso(store.now())
        path = f"item/images/{item_id}/{image_id}-{file_name or 'image'}"
        checksum = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        record: Record = {
            "id": image_id, "itemId": item_id, "fileType": file_type, "path": path,
            "position": int(body.get("position", 0) or 0), "createdAt": ts, "updatedAt": ts,
            "md5Checksum": checksum, "md5ChecksumOriginal": checksum,
            "hasLinkedVariations": 0, "size": len(payload) if data else 0, "width": 0,
            "height": 0, "url": f"https://cdn.plenty.sandbox/{path}",
            "urlMiddle": f"https://cdn.plenty.sandbox/middle/{path}",
            "urlPreview": f"https://cdn.plenty.sandbox/preview/{path}",
            "urlSecondPreview": f"https://cdn.plenty.sandbox/second/{path}",
            "_sourceUrl": str(url) if url else "",
            "names": _names(image_id, body),
        }
        store.images[image_id] = record
        sb.record("image.uploaded", itemId=item_id, imageId=image_id,
                  uploadUrl=str(url) if url else None, md5=checksum)
    return jsonify(public(record))


def _decode(data: Any) -> bytes:
    try:
        return base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "uploadImageData is not valid base64", "validation_error") from None


def _names(image_id: int, body: dict[str, Any]) -> list[Record]:
    if isinstance(body.get("names"), list):
        return [{"imageId": image_id, "lang": str(n.get("lang", "de")),
                 "name": str(n.get("name", "")), "alternate": str(n.get("alternate", ""))}
                for n in body["names"] if isinstance(n, dict)]
    if body.get("name"):
        return [{"imageId": image_id, "lang": str(body.get("lang") or "de"),
                 "name": str(body["name"]), "alternate": str(body.get("alternate", ""))}]
    return []


@bp.post("/rest/items/<int:item_id>/variations/<int:variation_id>/variation_images")
def link_image(item_id: int, variation_id: int) -> Response:
    sb = sandbox()
    store = sb.store
    body = as_object(json_body())
    require(body, "imageId")
    image_id = int_field(body, "imageId")
    with store.lock:
        variation = store.variations.get(variation_id)
        if variation is None or variation["itemId"] != item_id:
            raise not_found(f"variation {variation_id} of item {item_id}")
        image = store.images.get(image_id)
        if image is None or image["itemId"] != item_id:
            raise ApiError(422, f"image {image_id} does not belong to item {item_id}",
                           "validation_error")
        for link in store.variation_images[variation_id]:
            if link["imageId"] == image_id:
                return jsonify(link)
        ts = iso(store.now())
        link = {"id": store.next_id("variation_image"), "itemId": item_id,
                "variationId": variation_id, "imageId": image_id, "createdAt": ts,
                "updatedAt": ts}
        store.variation_images[variation_id].append(link)
        image["hasLinkedVariations"] = 1
        store.touch_variation(variation_id)
        sb.record("image.linked", itemId=item_id, variationId=variation_id, imageId=image_id)
    return jsonify(link)
