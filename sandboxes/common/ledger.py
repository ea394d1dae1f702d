"""An append-only record of every side effect a sandbox applied.

Tests prove *exactly once* and *in order* by reading it: one `order.registered` entry per
order however often the connector retried, each with the idempotency key it came with.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    kind: str
    idempotency_key: str | None
    data: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "idempotencyKey": self.idempotency_key,
            "data": self.data,
            "at": utc_iso(self.at),
        }


class Ledger:
    """Thread-safe; `seq` starts at 1 and never repeats until `clear()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []

    def record(
        self, kind: str, data: dict[str, Any], idempotency_key: str | None = None
    ) -> LedgerEntry:
        with self._lock:
            entry = LedgerEntry(len(self._entries) + 1, kind, idempotency_key, dict(data))
            self._entries.append(entry)
            return entry

    def entries(
        self, kinds: Iterable[str] | str | None = None, since_seq: int = 0
    ) -> list[LedgerEntry]:
        """Entries after `since_seq`, optionally only of the given kind(s), in order."""
        wanted = {kinds} if isinstance(kinds, str) else (set(kinds) if kinds else None)
        with self._lock:
            snapshot = self._entries[since_seq:] if since_seq > 0 else list(self._entries)
        return [e for e in snapshot if wanted is None or e.kind in wanted]

    def count(self, kind: str | None = None) -> int:
        return len(self.entries(kind))

    def clear(self) -> None:
        with self._lock:
            self._entries = []
