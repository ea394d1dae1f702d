"""Accepting an event durably: record it and claim its idempotency key, in one transaction.

The caller commits, then enqueues the returned delivery id: a crash in between leaves a
pending row the sweeper re-enqueues, so a 202 is never lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store import idempotency
from store.idempotency import Claim
from store.models import EventDelivery, IdempotencyKey, utcnow

SCOPE = "webhook"
# The sweeper treats a pending row as lost after this (the enqueue right after commit
# normally makes it irrelevant).
SWEEP_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    delivery_id: int | None  # set only when the event is new: enqueue it
    replayed: bool = False


def idempotency_key(event: str, order_id: int, webhook_id: str | None) -> str:
    """The sender's event id when it gives one, else connection + event + order id."""
    if webhook_id:
        return f"id:{webhook_id}"[:255]
    return f"{event}:{order_id}"


def request_fingerprint(
    event: str, order_id: int, webhook_id: str | None, body: bytes
) -> str:
    # With a sender id the raw body identifies the request (same id, other body: 409);
    # without one, the event and order are the request (a re-send with a new timestamp is
    # the same event).
    if webhook_id:
        return idempotency.request_hash(event.encode() + b"\n" + body)
    return idempotency.request_hash({"event": event, "orderId": order_id})


def accept(
    session: Session,
    *,
    connection_id: str,
    event: str,
    order_id: int,
    payload: dict[str, Any],
    key: str,
    fingerprint: str,
    grace: timedelta = SWEEP_GRACE,
) -> Outcome:
    """Two statements on the hot path: the event row, then its key already answered; a key
    that exists makes the caller's transaction roll back and the first answer come back."""
    now = utcnow()
    row = EventDelivery(
        connection_id=connection_id,
        event_type=event,
        order_id=order_id,
        payload=payload,
        status="pending",
        next_attempt_at=now + grace,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    body = {"eventId": row.id, "event": event, "orderId": order_id, "status": "accepted"}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key_id = session.execute(
        insert(IdempotencyKey)
        .values(connection_id=connection_id, scope=SCOPE, key=key, request_hash=fingerprint,
                status="done", response={"status": 202, "body": body}, created_at=now,
                expires_at=now + idempotency.DEFAULT_TTL)
        .on_conflict_do_nothing(index_elements=["connection_id", "scope", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if key_id is not None:
        return Outcome(202, body, row.id)
    session.rollback()  # the event was seen before: forget this row
    claimed = idempotency.claim(session, connection_id, SCOPE, key, fingerprint)
    if claimed.claim is Claim.CONFLICT:
        return Outcome(409, _error(409, "Conflict", "this event id was used for another body"),
                       None)
    if claimed.claim is Claim.DUPLICATE:
        first = claimed.response or {}
        return Outcome(int(first.get("status", 202)), dict(first.get("body") or {}), None, True)
    if claimed.claim is Claim.NEW:  # its first owner was reaped meanwhile: nothing recorded
        idempotency.release(session, claimed.key_id)
    return Outcome(409, _error(409, "Conflict", "this event is being accepted; retry"), None)


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"code": code, "status": status, "message": message}


# PostgreSQL: the event row and its answered key in one statement, one round trip, in
# autocommit (a statement is atomic). A key seen before leaves the new row to be deleted.
_ONE_STATEMENT = text("""
WITH e AS (
  INSERT INTO event_deliveries (connection_id, event_type, order_id, payload, status,
                                attempts, next_attempt_at, created_at, updated_at)
  VALUES (:conn, :event, :order_id, CAST(:payload AS json), 'pending', 0, :next, :now, :now)
  RETURNING id
), k AS (
  INSERT INTO idempotency_keys (connection_id, scope, key, request_hash, status, response,
                                created_at, expires_at)
  SELECT :conn, :scope, :key, :hash, 'done',
         json_build_object('status', 202, 'body', json_build_object(
           'eventId', e.id, 'event', CAST(:event AS text), 'orderId', CAST(:order_id AS bigint),
           'status', 'accepted')),
         :now, :expires
  FROM e
  ON CONFLICT (connection_id, scope, key) DO NOTHING
  RETURNING id
)
SELECT e.id AS event_id, k.id AS key_id FROM e LEFT JOIN k ON true
""")


def accept_postgres(
    connection: Connection,
    *,
    connection_id: str,
    event: str,
    order_id: int,
    payload: dict[str, Any],
    key: str,
    fingerprint: str,
    grace: timedelta = SWEEP_GRACE,
) -> Outcome | None:
    """The new event's outcome, or None when its key exists (then `accept` answers)."""
    now = utcnow()
    row = connection.execute(_ONE_STATEMENT, {
        "conn": connection_id, "event": event, "order_id": order_id,
        "payload": json.dumps(payload), "next": now + grace, "now": now, "scope": SCOPE,
        "key": key, "hash": fingerprint, "expires": now + idempotency.DEFAULT_TTL,
    }).one()
    if row.key_id is None:
        connection.execute(delete(EventDelivery).where(EventDelivery.id == row.event_id))
        return None
    body = {"eventId": int(row.event_id), "event": event, "orderId": order_id,
            "status": "accepted"}
    return Outcome(202, body, int(row.event_id))
