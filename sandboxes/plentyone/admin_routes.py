"""The PlentyONE sandbox's own admin routes (next to the shared ones under /__admin/).

    GET  /__admin/info                 demo credentials, seeded lookup ids, settings
    GET  /__admin/plan                 the rate plan in force
    POST /__admin/plan                 {"reads_per_minute", "writes_per_minute", "daily_cap",
                                        "window_seconds", "route_limit"} | {"plan": "off"|tier}
    GET  /__admin/sessions             live sessions per account, login counts
    DELETE /__admin/sessions           end every session (frees the session limit)
    POST /__admin/tokens/expire        every access token expires now (refresh still works)
    POST /__admin/orders               create an order as a shop or market would
    POST /__admin/events/procedures    register an event procedure
    GET  /__admin/events/procedures    list them;  DELETE: remove them all
    POST /__admin/events/fire          fire procedures for one order now
    GET  /__admin/events/deliveries    every delivery with its attempts; `pending` count
    POST /__admin/events/settings      {"copies": 3}: send every delivery this many times
    GET  /__admin/contract             answers checked against the official description and
                                       the violations (when started with contract_check)
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from sandboxes.plentyone.config import plan_from_spec
from sandboxes.plentyone.events import ProcedureError
from sandboxes.plentyone.http import ApiError, as_object, json_body
from sandboxes.plentyone.lookups import LOOKUP_IDS
from sandboxes.plentyone.order_ops import new_order, order_view
from sandboxes.plentyone.state import sandbox

bp = Blueprint("plentyone_admin", __name__, url_prefix="/__admin")


@bp.get("/info")
def info() -> ResponseReturnValue:
    sb = sandbox()
    return jsonify({
        "system": "plentyone",
        "credentials": [{"username": u, "password": p} for u, p in sb.config.accounts.items()],
        "lookups": LOOKUP_IDS,
        "tokenTtl": sb.config.token_ttl, "maxSessions": sb.config.max_sessions,
        "variations": sb.config.variations, "seed": sb.config.seed,
        "plan": sb.limiter.plan.to_dict(),
    })


@bp.get("/plan")
def get_plan() -> ResponseReturnValue:
    return jsonify(sandbox().limiter.plan.to_dict())


@bp.post("/plan")
def set_plan() -> ResponseReturnValue:
    sb = sandbox()
    body = json_body()
    try:
        plan = plan_from_spec(body if isinstance(body, (dict, str)) else None)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, str(exc), "bad_plan") from None
    sb.limiter.set_plan(plan)
    return jsonify(plan.to_dict())


@bp.get("/sessions")
def sessions() -> ResponseReturnValue:
    sb = sandbox()
    return jsonify({"live": sb.sessions.live_count(), "logins": sb.sessions.logins,
                    "refreshes": sb.sessions.refreshes,
                    "rejectedLogins": sb.sessions.rejected_logins})


@bp.delete("/sessions")
def drop_sessions() -> ResponseReturnValue:
    sandbox().sessions.drop_all()
    return jsonify({"live": {}})


@bp.post("/tokens/expire")
def expire_tokens() -> ResponseReturnValue:
    return jsonify({"expired": sandbox().sessions.expire_access_tokens()})


@bp.post("/orders")
def create_order() -> ResponseReturnValue:
    """{"referrerId": 104.01, "plentyId": 1000, "warehouseId": 1, "statusId": 5,
    "lines": [{"variationId"|"spoccId"|"number": …, "quantity": 1, "price": 59.95}],
    "addresses": {"billing": {...}, "delivery": {...}}, "properties": [{"typeId", "value"}],
    "fireEvents": true}"""
    sb = sandbox()
    body = as_object(json_body())
    with sb.store.lock:
        order = new_order(sb.store, body)
        sb.record("order.created", orderId=order["id"], typeId=order["typeId"],
                  statusId=order["statusId"], referrerId=order["referrerId"],
                  lines=[{"variationId": i["itemVariationId"], "quantity": i["quantity"]}
                         for i in order["orderItems"]])
        view = order_view(sb.store, order, {"addresses"})
    if body.get("fireEvents", True):
        sb.events.order_created(order["id"])
    return jsonify(view)


@bp.post("/events/procedures")
def register_procedure() -> ResponseReturnValue:
    """{"trigger": "new_order"|"new_return"|"status_change", "statusId": 8,
    "url": "http://…/webhooks/plentyone/order-registered?order=[OrderID]",
    "method": "POST", "auth": {"bearer": "…"} | {"queryToken": "…"},
    "signingSecret": "whsec_…", "referrerIds": [104.01], "orderTypeIds": [1],
    "duplicate": false, "retries": 3, "backoff": 0.5}"""
    try:
        procedure = sandbox().events.register(json_body())
    except ProcedureError as exc:
        raise ApiError(400, str(exc), "bad_procedure") from None
    return jsonify(procedure.to_json())


@bp.get("/events/procedures")
def list_procedures() -> ResponseReturnValue:
    return jsonify([p.to_json() for p in sandbox().events.procedures()])


@bp.delete("/events/procedures")
def clear_procedures() -> ResponseReturnValue:
    sandbox().events.clear_procedures()
    return jsonify([])


@bp.post("/events/fire")
def fire() -> ResponseReturnValue:
    """{"orderId": 1001, "event": "status_change", "statusId": 8,
    "procedureIds": [1]} or with an inline "procedure": {url, auth, …}."""
    try:
        deliveries = sandbox().events.fire(as_object(json_body()))
    except ProcedureError as exc:
        raise ApiError(400, str(exc), "bad_fire") from None
    return jsonify({"deliveries": [d.to_json() for d in deliveries]})


@bp.post("/events/settings")
def event_settings() -> ResponseReturnValue:
    body = as_object(json_body())
    events = sandbox().events
    if body.get("copies") is not None:
        copies = int(body["copies"])
        if not 1 <= copies <= 10:
            raise ApiError(400, "copies must be between 1 and 10", "bad_settings")
        events.copies = copies
    return jsonify({"copies": events.copies})


@bp.get("/events/deliveries")
def deliveries() -> ResponseReturnValue:
    events = sandbox().events
    return jsonify({"pending": events.pending(), "deliveries": events.deliveries()})


@bp.get("/contract")
def contract() -> ResponseReturnValue:
    checker = sandbox().contract
    if checker is None:
        return jsonify({"enabled": False})
    return jsonify({"enabled": True, **checker.to_json()})
