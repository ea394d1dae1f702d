"""The stored HTTP exchanges of failed attempts (already scrubbed by `clients.exchange`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from store.operator_models import HttpExchange

FIELDS = ("api", "method", "route", "status", "duration_ms", "error", "body", "body_truncated")


def record(
    session: Session,
    exchange: Mapping[str, Any],
    *,
    attempt_id: int | None = None,
    dead_letter_id: int | None = None,
) -> HttpExchange:
    row = HttpExchange(
        attempt_id=attempt_id,
        dead_letter_id=dead_letter_id,
        **{k: exchange[k] for k in FIELDS},
    )
    session.add(row)
    session.flush()
    return row
