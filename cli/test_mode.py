"""Test mode wiring: the sandbox PlentyONE calls our receiver as a configured PlentyONE would.

In production an operator creates these event procedures in PlentyONE's back end; in test
mode `spocc up` creates them in the sandbox, so an order made there flows through every
event to the SPoCC sandbox and back as statuses.
"""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy.orm import Session

from schemas.connection import ConnectionConfig
from store import purge


def register_event_procedures(conn: ConnectionConfig, receiver_url: str) -> int:
    """Create (once) the five procedures in the sandbox PlentyONE; returns how many exist.

    Signed (Standard Webhooks) when the connection has a signing secret, else with the
    token in the URL, as PlentyONE's own *Open URL* action can only do.
    """
    from tasks.orders.operator import event_procedures

    admin = f"{conn.plentyone.base_url}/__admin/events/procedures"
    listed = requests.get(admin, timeout=10).json()
    rows = listed.get("procedures", listed) if isinstance(listed, dict) else listed
    have = {p.get("url") for p in rows if isinstance(p, dict)}
    token = conn.webhooks.token.reveal() if conn.webhooks.token else ""
    wanted = event_procedures(receiver_url, conn.id, token)
    for procedure in wanted:
        if procedure["url"] in have:
            continue
        if conn.webhooks.signing_secret:
            procedure.pop("auth", None)
            procedure["signingSecret"] = conn.webhooks.signing_secret.reveal()
        answer = requests.post(admin, json=procedure, timeout=10)
        answer.raise_for_status()
    return len(wanted)


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


# Kept across a reset: what the operator configured, and the record of who did what.
KEPT_ON_RESET = frozenset({"connections", "connection_secrets", "config_revisions",
                           "operator_audit"})


def reset_test_mode_data(session: Session, connection_ids: list[str]) -> list[str]:
    """Forget what the connector knows of these connections' sandboxes (orders, deliveries,
    idempotency keys, attempts, dead letters, sync runs and catalogue state) and keep their
    configuration. `spocc up` starts the sandboxes empty, so what it remembered of the last
    run would otherwise answer a new order 1000 "done" without reaching SPoCC. Returns the
    tables that lost rows."""
    return purge.delete_rows(session, connection_ids, keep=KEPT_ON_RESET)
