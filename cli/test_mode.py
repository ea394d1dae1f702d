"""Test mode wiring: the sandbox PlentyONE calls our receiver as a configured PlentyONE would.

In production an operator creates these event procedures in PlentyONE's back end; in test
mode `spocc up` creates them in the sandbox, so an order made there flows through every
event to the SPoCC sandbox and back as statuses.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import requests
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from schemas.connection import ConnectionConfig


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
    run would otherwise answer a new order 1000 "done" without reaching SPoCC.

    Every table with a `connection_id` is reset unless named in KEPT_ON_RESET; rows of other
    tables that point at a reset row go with it. Returns the tables that lost rows."""
    import pkgutil
    from importlib import import_module

    import store
    from store.models import Base

    for module in pkgutil.iter_modules(store.__path__):
        if module.name.endswith("models"):
            import_module(f"store.{module.name}")
    tables = Base.metadata.sorted_tables
    reset = {t.name for t in tables if "connection_id" in t.c and t.name not in KEPT_ON_RESET}
    emptied = []
    for table in reversed(tables):  # children before their parents
        if table.name in reset:
            where = table.c.connection_id.in_(connection_ids)
        else:
            pointing = [
                fk.parent.in_(select(fk.column).where(fk.column.table.c.connection_id
                                                      .in_(connection_ids)))
                for fk in table.foreign_keys
                if fk.column.table.name in reset
            ]
            if not pointing:
                continue
            where = or_(*pointing)
        if session.execute(delete(table).where(where)).rowcount:  # type: ignore[attr-defined]
            emptied.append(table.name)
    return emptied


def forget_in_redis(client: Any, connection_ids: list[str]) -> dict[str, int]:
    """The Redis half of `reset_test_mode_data`: these connections' keys (`spocc:<id>:…`:
    budgets, breakers, tokens, "run followed" marks) and the messages queued or unacked for
    them. Row ids start again after the reset, so an old message for delivery 5 would
    otherwise run the new delivery 5. Other connections' keys and work stay."""
    from workers.settings import QUEUES

    wanted = set(connection_ids)
    keys = [k for cid in connection_ids for k in client.scan_iter(f"spocc:{cid}:*", count=1000)]
    if keys:
        client.delete(*keys)
    messages = 0
    for key in client.scan_iter(count=1000):
        if key.decode(errors="replace").split("\x06")[0] in QUEUES and client.type(key) == b"list":
            for raw in client.lrange(key, 0, -1):
                if _connection_of(raw) in wanted:
                    messages += int(client.lrem(key, 0, raw))
    for tag, raw in client.hgetall("unacked").items():
        try:
            message = json.dumps(json.loads(raw)[0])
        except (ValueError, IndexError, TypeError):
            continue
        if _connection_of(message.encode()) in wanted:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
            messages += 1
    return {"keys": len(keys), "messages": messages}


def _connection_of(raw: bytes) -> str | None:
    """The connection a kombu message (JSON, body base64 JSON `[args, kwargs, embed]`) is
    for: `connection_id` in its kwargs, else a first positional string."""
    try:
        args, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
    except (ValueError, KeyError, TypeError):
        return None
    value = kwargs.get("connection_id") if isinstance(kwargs, dict) else None
    if value is None and args and isinstance(args[0], str):
        value = args[0]
    return value if isinstance(value, str) else None
