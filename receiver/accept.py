"""Accepting an event durably: claim its idempotency key, then record it, in one transaction.

One path for SQLite and PostgreSQL, in SQLAlchemy Core: the key is claimed first (INSERT … ON
CONFLICT DO NOTHING), so a duplicate writes nothing and only reads the first answer. The
caller enqueues the returned delivery id after the commit: a crash in between leaves a
pending row the sweeper re-enqueues, so a 200 is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from store import idempotency
from store.models import EventDelivery, IdempotencyKey, utcnow

SCOPE = "webhook"
# The sweeper treats a pending row as lost after this (the enqueue right after commit
# normally makes it irrelevant).
SWEEP_GRACE = timedelta(seconds=60)
# PlentyONE counts only a 200 as delivered (and resends anything else 18 times), and any
# 2xx suits Standard Webhooks senders: every acceptance, first or repeated, is a 200.
ACCEPTED = 200

_keys = cast(Table, IdempotencyKey.__table__)
_events = cast(Table, EventDelivery.__table__)


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
    db: Engine | Connection,
    *,
    connection_id: str,
    event: str,
    order_id: int,
    payload: dict[str, Any],
    key: str,
    fingerprint: str,
    grace: timedelta = SWEEP_GRACE,
) -> Outcome:
    """New key: three statements (claim, event row, the key's answer). A key seen before:
    the claim and one read, nothing written. Given an engine, in a transaction of its own;
    given a connection, in the caller's, who commits."""
    if isinstance(db, Engine):
        with db.begin() as connection:
            return accept(connection, connection_id=connection_id, event=event,
                          order_id=order_id, payload=payload, key=key,
                          fingerprint=fingerprint, grace=grace)
    connection = db
    now = utcnow()
    key_id = connection.execute(_claim(connection.dialect.name), {
        "connection_id": connection_id, "scope": SCOPE, "key": key,
        "request_hash": fingerprint, "status": "in_progress", "created_at": now,
        "expires_at": now + idempotency.DEFAULT_TTL}).scalar_one_or_none()
    if key_id is None:
        return _seen(connection, connection_id, key, fingerprint)
    event_id = connection.execute(_INSERT_EVENT, {
        "connection_id": connection_id, "event_type": event, "order_id": order_id,
        "idempotency_key_id": key_id, "payload": payload, "status": "pending",
        "attempts": 0, "next_attempt_at": now + grace, "created_at": now,
        "updated_at": now}).scalar_one()
    body = {"eventId": event_id, "event": event, "orderId": order_id,
            "status": "accepted"}
    connection.execute(_ANSWER, {"key_id": key_id, "status": "done",
                                 "response": {"status": ACCEPTED, "body": body}})
    return Outcome(ACCEPTED, body, event_id)


# Built once, executed with parameters: every request runs the same three statements, and
# building them anew cost more CPU than the database spent on them.
_CLAIM_COLUMNS = ("connection_id", "scope", "key", "request_hash", "status", "created_at",
                  "expires_at")
_INSERT_EVENT = _events.insert().values({c: bindparam(c) for c in (
    "connection_id", "event_type", "order_id", "idempotency_key_id", "payload", "status",
    "attempts", "next_attempt_at", "created_at", "updated_at")}).returning(_events.c.id)
_ANSWER = update(_keys).where(_keys.c.id == bindparam("key_id")).values(
    status=bindparam("status"), response=bindparam("response"))
_SEEN = select(_keys.c.request_hash, _keys.c.status, _keys.c.response).where(
    _keys.c.connection_id == bindparam("connection_id"), _keys.c.scope == SCOPE,
    _keys.c.key == bindparam("key"))


@lru_cache(maxsize=2)
def _claim(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, in the dialect's words."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(_keys).values({c: bindparam(c) for c in _CLAIM_COLUMNS})
            .on_conflict_do_nothing(index_elements=["connection_id", "scope", "key"])
            .returning(_keys.c.id))


def _seen(connection: Connection, connection_id: str, key: str, fingerprint: str) -> Outcome:
    # The claim waited for the first claimant's commit (the unique index), so its answer is
    # visible here; a first claimant that rolled back left no key and the claim succeeded.
    row = connection.execute(_SEEN, {"connection_id": connection_id, "key": key}
                             ).one_or_none()
    if row is None or row.status != "done":
        return Outcome(409, _error(409, "Conflict", "this event is being accepted; retry"),
                       None)
    if row.request_hash != fingerprint:
        return Outcome(409, _error(409, "Conflict", "this event id was used for another body"),
                       None)
    first = row.response or {}
    status = int(first.get("status", ACCEPTED))
    # Keys recorded before every acceptance was a 200 hold a 202.
    return Outcome(ACCEPTED if 200 <= status < 300 else status,
                   dict(first.get("body") or {}), None, True)


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"code": code, "status": status, "message": message}
