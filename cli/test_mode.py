"""Test mode wiring: the sandbox PlentyONE calls our receiver as a configured PlentyONE would.

In production an operator creates these event procedures in PlentyONE's back end; in test
mode `spocc up` creates them in the sandbox, so an order made there flows through every
event to the SPoCC sandbox and back as statuses.
"""

from __future__ import annotations

from typing import Any

import requests

from schemas.connection import ConnectionConfig

# Event procedure triggers, as an operator would set them up (connector.md, Order events).
PROCEDURES: list[tuple[str, dict[str, Any]]] = [
    ("order-registered", {"trigger": "new_order", "orderTypeIds": [1]}),
    ("order-paid", {"trigger": "status_change", "statusId": 5}),
    ("shipping-documents", {"trigger": "status_change", "statusId": 6}),
    ("return-registered", {"trigger": "new_return"}),
    ("order-cancelled", {"trigger": "status_change", "statusId": 8}),
]


def register_event_procedures(conn: ConnectionConfig, receiver_url: str) -> int:
    """Create (once) the five procedures in the sandbox PlentyONE; returns how many exist."""
    admin = f"{conn.plentyone.base_url}/__admin/events/procedures"
    existing = requests.get(admin, timeout=10).json()
    rows = existing.get("procedures", existing) if isinstance(existing, dict) else existing
    have = {p.get("name") for p in rows if isinstance(p, dict)}
    token = conn.webhooks.token
    for event, trigger in PROCEDURES:
        name = f"spocc {conn.id} {event}"
        if name in have:
            continue
        body: dict[str, Any] = {
            "name": name,
            "url": f"{receiver_url}/hooks/{conn.id}/{event}?orderId=[OrderID]",
            "method": "POST",
            **trigger,
        }
        if conn.webhooks.signing_secret:
            body["signingSecret"] = conn.webhooks.signing_secret.reveal()
        elif token:
            body["auth"] = {"bearer": token.reveal()}
        answer = requests.post(admin, json=body, timeout=10)
        answer.raise_for_status()
    return len(PROCEDURES)


def create_demo_order(plenty_url: str, spocc_ids: list[str], warehouse_id: int = 1,
                      referrer_id: float = 104.01) -> dict[str, Any]:
    """An order of the given variations, made in the sandbox PlentyONE, events fired."""
    body = {
        "referrerId": referrer_id, "plentyId": 1000, "warehouseId": warehouse_id,
        "statusId": 3, "typeId": 1, "fireEvents": True,
        "lines": [{"spoccId": sid, "quantity": 1, "price": 59.95} for sid in spocc_ids],
        "addresses": {"billing": {
            "firstName": "Demo", "lastName": "Customer", "street": "Hauptstrasse",
            "houseNumber": "1", "postalCode": "10115", "town": "Berlin", "countryId": 1,
            "email": "demo@example.com",
        }},
    }
    answer = requests.post(f"{plenty_url}/__admin/orders", json=body, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())
