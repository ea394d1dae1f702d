"""Beat's liveness: the leading beat records each tick in SQL; status and the console read it.

The row survives a Redis restart, so a beat that lost Redis (or its lock) shows as silent
instead of vanishing. Only the beat that holds the RedBeat lock writes, so the time is the
last moment some beat was scheduling, whichever of several it was.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from store.beat_models import BeatHeartbeat
from workers import runtime

ROLE = "beat"
# Beat wakes at least this often (celery's beat_max_loop_interval); each wake is a tick.
LOOP_SECONDS = 5.0
# The RedBeat lock's time to live: a beat that died is replaced within this, and a beat
# that cannot reach Redis for this long loses the lead.
LOCK_SECONDS = 30


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_tick(when: datetime | None = None) -> None:
    """Write this beat's tick (an upsert on the one row of the role)."""
    when = when or datetime.now(UTC)
    with runtime.db() as session:
        row = session.get(BeatHeartbeat, ROLE)
        if row is None:
            session.add(BeatHeartbeat(name=ROLE, holder=holder(), ticked_at=when))
        else:
            row.holder, row.ticked_at = holder(), when


def last_tick() -> datetime | None:
    """When a beat last ticked (aware UTC), or None if no beat ever has."""
    with runtime.db() as session:
        row = session.get(BeatHeartbeat, ROLE)
        if row is None:
            return None
        return _aware(row.ticked_at)


def last_holder() -> str | None:
    """host:pid of the beat that ticked last."""
    with runtime.db() as session:
        row = session.get(BeatHeartbeat, ROLE)
        return None if row is None else row.holder


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; what was written is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
