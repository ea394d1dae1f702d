"""The SPoCC sandbox's own admin routes, next to the shared ones of sandboxes/common/admin.py.

    GET  /__admin/info                       URL parts, keys, catalogue size, generation
    POST /__admin/catalogue/mutate           {"percent": 5, "kind"?: "stock"|"images"}
                                             -> {"kind", "generation", "count", "at"}; stock
                                             changes stock+prices of 5 % of the variations,
                                             images gives 5 % of the articles new images
    POST /__admin/stock                      {"spoccId", "onHand", "channelStore"?} (all stores
                                             when absent) -> registrations fail for want of stock
    POST /__admin/orders/<id>/status         {"status": 4|7|9, "trackingNumber"?, "carrier"?}
                                             the store moves an order (7 = shipped, 9 = cancelled)
    GET  /__admin/orders                     every order, for debugging
    GET/POST /__admin/rate-limits            {"limits": {"global-stock": 600}, "windowSeconds": 60}
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from sandboxes.spocc.auth import Credentials, RateLimiter
from sandboxes.spocc.params import iso, now
from sandboxes.spocc.state import STATUS_NAMES, SpoccState
from sandboxes.spocc.transactions import order_json, release_reservation
from sandboxes.spocc.validation import UNDELIVERABLE_POSTCODE

STORE_STATUSES = (4, 7, 9)


def _bad(message: str, status: int = 400) -> ResponseReturnValue:
    return jsonify({"error": message}), status


def spocc_admin_blueprint(
    state: SpoccState, credentials: Credentials, limiter: RateLimiter
) -> Blueprint:
    bp = Blueprint("spocc_admin", __name__, url_prefix="/__admin")
    catalogue = state.catalogue

    @bp.get("/info")
    def info() -> ResponseReturnValue:
        return jsonify({
            "retailerId": credentials.retailer_id,
            "apiKeys": dict(credentials.keys),
            "variations": len(catalogue),
            "articles": catalogue.article_count,
            "seed": catalogue.seed,
            "channelStores": list(catalogue.channel_stores),
            "generation": catalogue.generation,
            "imageGeneration": len(catalogue.image_mutations),
            "undeliverablePostalCode": UNDELIVERABLE_POSTCODE,
        })

    @bp.post("/catalogue/mutate")
    def mutate() -> ResponseReturnValue:
        body: Any = request.get_json(silent=True) or {}
        percent = body.get("percent")
        if isinstance(percent, bool) or not isinstance(percent, int | float) \
                or not 0 <= percent <= 100:
            return _bad("percent must be a number from 0 to 100")
        kind = body.get("kind", "stock")
        if kind not in ("stock", "images"):
            return _bad('kind must be "stock" (stock and prices) or "images"')
        mutation = state.mutate(float(percent)) if kind == "stock" else \
            state.mutate_images(float(percent))
        return jsonify({"kind": kind, "generation": mutation.generation,
                        "count": mutation.count, "at": iso(mutation.at)})

    @bp.post("/stock")
    def set_stock() -> ResponseReturnValue:
        body: Any = request.get_json(silent=True) or {}
        spocc_id, on_hand, store = body.get("spoccId"), body.get("onHand"), body.get("channelStore")
        index = catalogue.index_of(spocc_id) if isinstance(spocc_id, str) else None
        if index is None:
            return _bad(f"unknown spoccId {spocc_id!r}", 404)
        if isinstance(on_hand, bool) or not isinstance(on_hand, int) or on_hand < 0:
            return _bad("onHand must be an integer >= 0")
        if store is not None and store not in catalogue.channel_stores:
            return _bad(f"unknown channelStore {store!r}", 404)
        for number in [store] if store is not None else catalogue.channel_stores:
            state.set_on_hand(index, number, on_hand)
        v = catalogue.variation(index)
        return jsonify({"spoccId": spocc_id, "stock": state.stock_entries(v)})

    @bp.post("/orders/<spocc_order_id>/status")
    def move_order(spocc_order_id: str) -> ResponseReturnValue:
        body: Any = request.get_json(silent=True) or {}
        status = body.get("status")
        if status not in STORE_STATUSES:
            return _bad(f"status must be one of {STORE_STATUSES}")
        with state.lock:
            order = state.orders.get(spocc_order_id)
            if order is None:
                return _bad(f"no order {spocc_order_id}", 404)
            moment = now()
            if status == 7:
                order.tracking = {
                    "trackingNumber": str(body.get("trackingNumber")
                                          or f"0034043{int(spocc_order_id[2:]):013d}"),
                    "carrier": str(body.get("carrier") or "DHL"),
                    "shippedAt": iso(moment),
                }
            if status == 9:
                release_reservation(state, order)
                order.cancellation = {"cancelledAt": iso(moment), "by": "store",
                                      "reason": body.get("reason")}
            order.status = status
            order.updated_at = moment
            state.ledger_record("store.status_changed", None, {
                "spoccOrderId": order.spocc_order_id,
                "plentyOrderId": order.plenty_order_id,
                "status": status,
                "statusName": STATUS_NAMES[status],
            })
            return jsonify(order_json(order))

    @bp.get("/orders")
    def all_orders() -> ResponseReturnValue:
        orders = sorted(list(state.orders.values()), key=lambda o: o.spocc_order_id)
        return jsonify({"count": len(orders), "orders": [order_json(o) for o in orders]})

    @bp.get("/rate-limits")
    def get_rate_limits() -> ResponseReturnValue:
        return jsonify(limiter.to_json())

    @bp.post("/rate-limits")
    def set_rate_limits() -> ResponseReturnValue:
        body: Any = request.get_json(silent=True) or {}
        try:
            limiter.configure(dict(body.get("limits") or {}),
                              float(body.get("windowSeconds", 60)))
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return jsonify(limiter.to_json())

    return bp
