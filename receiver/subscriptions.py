"""`POST /hooks/<connection>`: PlentyONE's webhook subscriptions, one endpoint per
connection. The signature is checked, the event type routed to one of our events, and the
event recorded once per payload id. What PlentyONE sends is read in `plenty_webhooks`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields

from receiver import intake
from receiver import plenty_webhooks as plenty
from schemas.webhooks import WebhookErrorSchema as Err
from store import idempotency

subscriptions = Blueprint("subscriptions", __name__,
                          description="PlentyONE webhook subscriptions")
log = intake.log


class SubscriptionAnswerSchema(Schema):
    """`accepted` with the event id, or `ignored` (an event type or status the connector
    does not act on, answered 200 too, so that PlentyONE does not resend it)."""

    status = fields.String(required=True, metadata={"description": "accepted or ignored"})
    eventId = fields.Integer()
    event = fields.String()
    orderId = fields.Integer()
    reason = fields.String()


@subscriptions.route("/hooks/<connection_id>", methods=["POST"])
@subscriptions.doc(
    description="One delivery of a PlentyONE webhook subscription (Setup » Settings » "
                "Webhooks); the signature header is HMAC-SHA256 of the payload id under "
                "the subscription's sign key. See docs/plentyone-webhooks.md.",
    parameters=[{"in": "header", "name": plenty.SIGNATURE_HEADER, "required": True,
                 "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}],
    requestBody={"required": True,
                 "content": {"application/json": {"schema": plenty.PlentyWebhookSchema}}},
    security=[{"plentySignature": []}],
)
@subscriptions.response(200, SubscriptionAnswerSchema,
                        description="accepted or ignored (also every resend of it)")
@subscriptions.alt_response(400, schema=Err, description="malformed JSON or not UTF-8")
@subscriptions.alt_response(401, schema=Err, description="missing or wrong signature")
@subscriptions.alt_response(404, schema=Err, description="unknown connection")
@subscriptions.alt_response(409, schema=Err, description="payload id reused with another body")
@subscriptions.alt_response(413, schema=Err, description="body too large")
@subscriptions.alt_response(415, schema=Err, description="not application/json")
@subscriptions.alt_response(422, schema=Err, description="a field is wrong (named)")
@subscriptions.alt_response(503, schema=Err, description="the event store is unavailable")
def receive_subscription(connection_id: str) -> Response:
    try:
        return _receive(connection_id)
    except intake.Refused as refused:
        return refused.response()


def _receive(connection_id: str) -> Response:
    conn = intake.connection(connection_id)
    raw = intake.read_body()
    document = intake.json_object(raw)
    payload_id = plenty.payload_id(document)
    if payload_id is None:
        raise intake.Refused(422, "id: the payload id is required (a string, ≤ 200 chars)",
                             {"json": {"id": ["Missing data for required field."]}})
    key = conn.webhooks.plentyone_sign_key
    if key is None:
        raise intake.Refused(401, "no PlentyONE sign key is configured for this connection")
    if not plenty.signed_by(key.reveal(), payload_id,
                            request.headers.get(plenty.SIGNATURE_HEADER)):
        raise intake.Refused(401, f"missing or wrong {plenty.SIGNATURE_HEADER}")
    try:
        delivery = plenty.load(document)
    except ValidationError as exc:
        raise intake.Refused(422, intake.name_fields(exc.messages),
                             {"json": exc.messages}) from None
    event, why = plenty.route(delivery)
    if event is None:
        log.info("subscription delivery %s for %s ignored: %s", payload_id[:64], conn.id, why)
        return jsonify({"status": "ignored", "reason": why})
    payload: dict[str, Any] = {**delivery.order, "event": delivery.event_type,
                               "payloadId": payload_id, "source": "subscription"}
    return intake.record(conn.id, event, delivery.order_id, payload,
                         f"plenty:{payload_id}"[:255],
                         idempotency.request_hash(event.encode() + b"\n" + raw))
