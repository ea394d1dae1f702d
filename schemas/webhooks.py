"""Order event webhooks: what PlentyONE (or a relay) may send, and what the receiver answers.

These schemas are the single source of the receiver's validation and of its served OpenAPI
document (`/openapi.json`). A body carries the order id and whatever else the sender adds;
unknown fields are ignored, known ones must have their type.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from schemas.ids import MAX_ID, DecimalId, QueryId, integer_id

# Event names as they appear in the URL (`POST /hooks/<connection>/<event>`), each with the
# task that carries it to SPoCC (queue "orders").
EVENTS: dict[str, str] = {
    "order-registered": "spocc.orders.register",
    "order-paid": "spocc.orders.paid",
    "shipping-documents": "spocc.orders.shipping_documents",
    "return-registered": "spocc.orders.returned",
    "order-cancelled": "spocc.orders.cancelled",
}

MAX_ORDER_ID = MAX_ID


class WebhookEventSchema(Schema):
    """The body of an order event. For a return, `orderId` is the return order (type 3).

    `orderId` may instead come in the query string (`?orderId=`); one of the two is required,
    and when both are given they must be equal."""

    class Meta:
        unknown = EXCLUDE

    orderId = integer_id(minimum=1, metadata={
        "description": "PlentyONE order id, a JSON integer (required unless ?orderId= is "
                       "given)"})
    event = fields.String(validate=validate.Length(max=64), allow_none=True)
    typeId = integer_id(maximum=1000, allow_none=True)
    statusId = DecimalId(maximum=1000, allow_none=True, metadata={"description": "e.g. 5.1"})
    previousStatusId = DecimalId(maximum=1000, allow_none=True)
    referrerId = DecimalId(allow_none=True, metadata={"description": "e.g. 104.01"})
    plentyId = integer_id(allow_none=True)
    procedureId = integer_id(allow_none=True)
    occurredAt = fields.Raw(allow_none=True, metadata={"description": "when it happened"})


class WebhookQuerySchema(Schema):
    """Query parameters, for senders that can only fill in a URL (PlentyONE's *Open URL*)."""

    class Meta:
        unknown = EXCLUDE

    orderId = QueryId(metadata={
        "description": "order id, when the body has none (equal to the body's if both)"})
    token = fields.String(
        metadata={"description": "the connection's webhook token (instead of a bearer token)"}
    )


class AcceptedSchema(Schema):
    """The answer to an accepted event, and to every later delivery of the same event."""

    eventId = fields.Integer(required=True)
    event = fields.String(required=True)
    orderId = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "accepted"})


class WebhookErrorSchema(Schema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


def load_event(data: Any) -> dict[str, Any]:
    """The validated body; raises marshmallow.ValidationError naming each bad field."""
    loaded: dict[str, Any] = WebhookEventSchema().load(data)
    return loaded
