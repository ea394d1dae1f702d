"""What was last pushed, per connection, kind and key (`catalogue_state`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.catalogue_models import CatalogueState
from store.models import utcnow
from tasks.catalogue.sql import among


def load(
    session: Session, connection_id: str, kind: str, keys: Iterable[str]
) -> dict[str, CatalogueState]:
    wanted = list(keys)
    if not wanted:
        return {}
    rows = session.execute(
        select(CatalogueState).where(
            CatalogueState.connection_id == connection_id,
            CatalogueState.kind == kind,
            among(CatalogueState.key, wanted),
        )
    ).scalars()
    return {row.key: row for row in rows}


def hashes(session: Session, connection_id: str, kind: str, keys: Iterable[str]) -> dict[str, str]:
    """key → hash, without loading the rows (the planner triages thousands at a time)."""
    wanted = list(keys)
    if not wanted:
        return {}
    rows = session.execute(
        select(CatalogueState.key, CatalogueState.hash).where(
            CatalogueState.connection_id == connection_id,
            CatalogueState.kind == kind,
            among(CatalogueState.key, wanted),
        )
    )
    return {key: hash_ for key, hash_ in rows}


def get(session: Session, connection_id: str, kind: str, key: str) -> CatalogueState | None:
    return session.get(CatalogueState, (connection_id, kind, key))


def save(
    session: Session,
    connection_id: str,
    kind: str,
    key: str,
    hash_: str,
    *,
    ref: int | None = None,
    state: dict[str, Any] | None = None,
    loaded: dict[str, CatalogueState] | None = None,
) -> CatalogueState:
    """Upsert one row; pass `loaded` (what `load` returned for these keys) to save a lookup."""
    if loaded is not None:
        row = loaded.get(key)
    else:
        row = session.get(CatalogueState, (connection_id, kind, key))
    if row is None:
        row = CatalogueState(connection_id=connection_id, kind=kind, key=key)
        session.add(row)
    row.hash = hash_
    if ref is not None:
        row.ref = ref
    row.state = dict(state or {})
    row.updated_at = utcnow()
    return row
