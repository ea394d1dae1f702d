"""Idempotency keys: the first claim of a key wins, every later one learns what happened.

The race is settled by the unique constraint (INSERT … ON CONFLICT DO NOTHING), never by
read-then-write, so two receivers or workers claiming one key at once get one "new".
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.db import insert_for
from store.models import IdempotencyKey, utcnow

DEFAULT_TTL = timedelta(hours=96)


class Claim(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"  # same key, same body, finished: here is the first answer
    CONFLICT = "conflict"  # same key, different body
    IN_PROGRESS = "in_progress"  # same key, same body, first claimant not finished


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    key_id: int
    response: dict[str, Any] | None


def request_hash(body: bytes | str | dict[str, Any] | list[Any]) -> str:
    if isinstance(body, dict | list):
        body = json.dumps(body, sort_keys=True, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    return hashlib.sha256(body).hexdigest()


def claim(
    session: Session,
    connection_id: str,
    scope: str,
    key: str,
    req_hash: str,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> ClaimResult:
    """Claim `key` in `scope` for `connection_id`. The caller commits."""
    now = now or utcnow()
    values = {
        "connection_id": connection_id,
        "scope": scope,
        "key": key,
        "request_hash": req_hash,
        "status": "in_progress",
        "created_at": now,
        "expires_at": now + ttl,
    }
    stmt = (
        insert_for(session)(IdempotencyKey)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["connection_id", "scope", "key"])
        .returning(IdempotencyKey.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        return ClaimResult(Claim.NEW, new_id, None)

    row = session.execute(
        select(IdempotencyKey).where(
            IdempotencyKey.connection_id == connection_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
    ).scalar_one()
    if row.request_hash != req_hash:
        return ClaimResult(Claim.CONFLICT, row.id, row.response)
    if row.status == "done":
        return ClaimResult(Claim.DUPLICATE, row.id, row.response)
    return ClaimResult(Claim.IN_PROGRESS, row.id, row.response)


def complete(session: Session, key_id: int, response: dict[str, Any]) -> None:
    """Record the answer every later claim of the key gets back."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == key_id)
        .values(status="done", response=response)
    )


def release(session: Session, key_id: int) -> None:
    """Forget an unfinished claim, so the sender's retry can claim it anew."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.id == key_id, IdempotencyKey.status == "in_progress"
        )
    )


def reap(session: Session, now: datetime | None = None) -> int:
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at < (now or utcnow()))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
