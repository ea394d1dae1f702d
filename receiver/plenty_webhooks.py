"""PlentyONE's webhook subscriptions as the receiver reads them: THE one module that knows
their header, payload layout, signature and event types (docs/plentyone-webhooks.md).

PlentyONE documents only that a signature made from the sign key and the payload's id with
SHA-256 travels in a header. The header name, the layout and the event names below are our
reading; a correction is a change to this file alone (and to the sandbox's
`sandboxes/plentyone/webhook_format.py`).

    POST <endpoint URL>                      one per connection: /hooks/<connection>
    Content-Type: application/json
    X-Plenty-Signature: <hex HMAC-SHA256(key=sign key, message=payload id)>

    {"id": "<payload id>", "event": "order.created" | "order.status_changed",
     "createdAt": "<ISO 8601>", "data": {"orderId": 1001, "typeId": 1, "statusId": 5.1,
     "previousStatusId": 5, "referrerId": 104.01, "plentyId": 1000}}
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from schemas.ids import DecimalId, integer_id

SIGNATURE_HEADER = "X-Plenty-Signature"
ORDER_CREATED = "order.created"
STATUS_CHANGED = "order.status_changed"
EVENT_TYPES = (ORDER_CREATED, STATUS_CHANGED)
RETURN_TYPE_ID = 3
# A status change is one of our events when the order reaches one of these statuses (the
# same conventions as the event procedures' triggers, tasks/orders/operator.py PROCEDURES).
STATUS_EVENTS: dict[float, str] = {11.0: "order-paid", 6.0: "shipping-documents",
                                   8.0: "order-cancelled"}


def signature(sign_key: str, payload_id: str) -> str:
    return hmac.new(sign_key.encode(), payload_id.encode(), hashlib.sha256).hexdigest()


def signed_by(sign_key: str, payload_id: str, header_value: str | None) -> bool:
    if not header_value:
        return False
    expected = signature(sign_key, payload_id)
    return hmac.compare_digest(header_value.strip().lower().encode(), expected.encode())


class PlentyOrderDataSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    orderId = integer_id(minimum=1, required=True)
    typeId = integer_id(maximum=1000, allow_none=True)
    statusId = DecimalId(maximum=1000, allow_none=True)
    previousStatusId = DecimalId(maximum=1000, allow_none=True)
    referrerId = DecimalId(allow_none=True)
    plentyId = integer_id(allow_none=True)


class PlentyWebhookSchema(Schema):
    """One delivery of a webhook subscription (our reading of PlentyONE's payload)."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200),
                       metadata={"description": "the payload id; the signature covers it"})
    event = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": f"e.g. {', '.join(EVENT_TYPES)}"})
    createdAt = fields.String(allow_none=True, validate=validate.Length(max=64))
    data = fields.Nested(PlentyOrderDataSchema, required=True)


@dataclass(frozen=True)
class Delivery:
    payload_id: str
    event_type: str
    order: dict[str, Any]

    @property
    def order_id(self) -> int:
        return int(self.order["orderId"])


def payload_id(document: dict[str, Any]) -> str | None:
    """The id the signature covers, read before anything else is trusted."""
    value = document.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


def load(document: dict[str, Any]) -> Delivery:
    """The validated delivery; raises marshmallow.ValidationError naming each bad field."""
    loaded = PlentyWebhookSchema().load(document)
    return Delivery(loaded["id"], loaded["event"], dict(loaded["data"]))


def route(delivery: Delivery) -> tuple[str | None, str]:
    """Our event for a delivery, or None with why it is not one of ours."""
    order = delivery.order
    if delivery.event_type == ORDER_CREATED:
        if order.get("typeId") == RETURN_TYPE_ID:
            return "return-registered", "a return was created"
        return "order-registered", "an order was created"
    if delivery.event_type == STATUS_CHANGED:
        status = order.get("statusId")
        event = STATUS_EVENTS.get(float(status)) if status is not None else None
        if event is None:
            return None, f"status {status} is not one the connector acts on"
        return event, f"the order reached status {status}"
    return None, f"event type {delivery.event_type[:64]!r} is not one the connector acts on " \
                 f"(it acts on {', '.join(EVENT_TYPES)})"
