"""What a PlentyONE webhook-subscription delivery looks like on the wire: THE one module of the
sandbox that knows the header, the payload layout, the signature and the event types.

PlentyONE documents only that a signature made from the sign key and the payload's id with
SHA-256 travels in a header; the rest is the project's reading (docs/plentyone-webhooks.md).
A correction is a change to this file (and to the receiver's `receiver/plenty_webhooks.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "X-Plenty-Signature"
ORDER_CREATED = "order.created"
STATUS_CHANGED = "order.status_changed"
EVENT_TYPES = (ORDER_CREATED, STATUS_CHANGED)


def signature(sign_key: str, payload_id: str) -> str:
    """Hex HMAC-SHA256 of the payload id under the subscription's sign key."""
    return hmac.new(sign_key.encode(), payload_id.encode(), hashlib.sha256).hexdigest()


def event_type(trigger: str) -> str:
    """The subscription event of a sandbox trigger (new_order, new_return, status_change)."""
    return STATUS_CHANGED if trigger == "status_change" else ORDER_CREATED


def payload(payload_id: str, event: str, order: dict[str, Any], status: float | None,
            previous: float | None) -> bytes:
    document = {
        "id": payload_id,
        "event": event,
        "createdAt": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "data": {
            "orderId": int(order["id"]), "typeId": int(order["typeId"]),
            "statusId": status if status is not None else order["statusId"],
            "previousStatusId": previous, "referrerId": order["referrerId"],
            "plentyId": order["plentyId"],
        },
    }
    return json.dumps(document).encode()


def headers(sign_key: str, payload_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "User-Agent": "PlentyONE-Sandbox-Webhooks/1.0",
            SIGNATURE_HEADER: signature(sign_key, payload_id)}
