"""One idempotency key, one body (docs/spocc-api.md §5): the body first sent under a SPoCC
key is stored, encrypted like the secrets (it holds names and addresses), and every retry
resends exactly it, even when the order was edited in PlentyONE since. It is kept as long as
our own idempotency key (`SPOCC_STORED_BODY_SECONDS`, 96 h) and reaped by the order sweeper."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from schemas.secret import Secret
from store.db import insert_for
from store.models import utcnow
from store.order_models import SpoccRequest
from workers import runtime


def _stored(connection_id: str, key: str) -> bytes | None:
    with runtime.db() as session:
        return session.execute(select(SpoccRequest.ciphertext).where(
            SpoccRequest.connection_id == connection_id,
            SpoccRequest.idempotency_key == key)).scalar_one_or_none()


def stored_body(connection_id: str, key: str) -> dict[str, Any] | None:
    """The body already sent under `key`, if any."""
    stored = _stored(connection_id, key)
    if stored is None:
        return None
    return dict(json.loads(runtime.secret_box().decrypt(stored).reveal()))


def sent_body(connection_id: str, key: str, build: Callable[[], dict[str, Any]]
              ) -> dict[str, Any]:
    """The body to send under `key`: the stored one, else `build()`'s, stored first (a
    concurrent first send of the same key keeps the body stored first)."""
    box = runtime.secret_box()
    stored = _stored(connection_id, key)
    if stored is None:
        text = json.dumps(build(), separators=(",", ":"))
        now = utcnow()
        ttl = timedelta(seconds=runtime.settings().orders.spocc_key_seconds)
        with runtime.db() as session:
            session.execute(insert_for(session)(SpoccRequest).values(
                connection_id=connection_id, idempotency_key=key,
                ciphertext=box.encrypt(Secret(text)), created_at=now, expires_at=now + ttl,
            ).on_conflict_do_nothing(index_elements=["connection_id", "idempotency_key"]))
        stored = _stored(connection_id, key)
        assert stored is not None
    return dict(json.loads(box.decrypt(stored).reveal()))


def forget(connection_id: str, key: str) -> None:
    """SPoCC refused the call (an error answer stores nothing under the key): the next try,
    after the cause is fixed, builds its body afresh."""
    with runtime.db() as session:
        session.execute(delete(SpoccRequest).where(
            SpoccRequest.connection_id == connection_id,
            SpoccRequest.idempotency_key == key))


def reap(now: datetime | None = None) -> int:
    with runtime.db() as session:
        result = session.execute(delete(SpoccRequest).where(
            SpoccRequest.expires_at < (now or utcnow())))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
