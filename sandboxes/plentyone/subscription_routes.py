"""Admin routes of the webhook subscriptions (next to the event procedures' /__admin/events).

    POST   /__admin/webhooks/subscriptions  {"url", "events": ["order.created", …],
                                             "signKey"?, "copies"?} → the subscription
                                             with its signKey (shown this once)
    GET    /__admin/webhooks/subscriptions  list them (without keys);  DELETE: remove all
    POST   /__admin/webhooks/fire           {"events": [{"orderId", "event", "statusId",
                                             "previousStatusId", "copies"}, …]} → how many
                                             deliveries were made, and their payload ids
    GET    /__admin/webhooks/deliveries     every delivery with its attempts; `pending`
    POST   /__admin/webhooks/settings       {"timeout": 2.0, "timeScale": 0.001}
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from sandboxes.plentyone.http import ApiError, as_object, json_body
from sandboxes.plentyone.state import sandbox
from sandboxes.plentyone.subscriptions import SubscriptionError

bp = Blueprint("plentyone_webhooks", __name__, url_prefix="/__admin/webhooks")


@bp.post("/subscriptions")
def subscribe() -> ResponseReturnValue:
    try:
        subscription = sandbox().subscriptions.register(json_body())
    except SubscriptionError as exc:
        raise ApiError(400, str(exc), "bad_subscription") from None
    return jsonify(subscription.to_json(with_key=True))


@bp.get("/subscriptions")
def list_subscriptions() -> ResponseReturnValue:
    return jsonify([s.to_json() for s in sandbox().subscriptions.subscriptions()])


@bp.delete("/subscriptions")
def clear_subscriptions() -> ResponseReturnValue:
    sandbox().subscriptions.clear()
    return jsonify([])


@bp.post("/fire")
def fire() -> ResponseReturnValue:
    try:
        made = sandbox().subscriptions.fire(as_object(json_body()))
    except SubscriptionError as exc:
        raise ApiError(400, str(exc), "bad_fire") from None
    return jsonify({"deliveries": len(made),
                    "payloadIds": sorted({d.payload_id for d in made})})


@bp.get("/deliveries")
def deliveries() -> ResponseReturnValue:
    sender = sandbox().subscriptions
    return jsonify({"pending": sender.pending(), "deliveries": sender.deliveries()})


@bp.post("/settings")
def settings() -> ResponseReturnValue:
    body = as_object(json_body())
    config = sandbox().config
    for key, attr in (("timeout", "webhook_timeout"), ("timeScale", "webhook_time_scale")):
        if key in body:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ApiError(400, f"{key} must be a positive number", "bad_settings")
            setattr(config, attr, float(value))
    return jsonify({"timeout": config.webhook_timeout, "timeScale": config.webhook_time_scale})
