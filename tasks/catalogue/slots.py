"""Clock-aligned schedule slots: every beat computes the same slot for the same moment.

A slot is the interval's boundary in UTC at or before the tick, counted from midnight UTC
(15-minute slots at :00, :15, :30, :45; daily slots at 00:00), never from when beat started,
and shifted by the connection's stable offset (`offset_minutes`): with 1,000 connections,
3,000 hourly planners would otherwise all start at :00.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

DAY_MINUTES = 24 * 60
# A daily full sync spreads over its first hour, not over the day: operators expect it at
# night, and an hour already spreads 1,000 connections to some 17 a minute.
SPREAD_MINUTES = 60


def offset_minutes(connection_id: str, interval_minutes: int) -> int:
    """The connection's offset within the interval (within its first SPREAD_MINUTES):
    stable across beats, restarts and hosts (a CRC, not Python's salted `hash`)."""
    return zlib.crc32(connection_id.encode()) % max(1, min(interval_minutes, SPREAD_MINUTES))


def slot_start(now: datetime, interval_minutes: int, offset: int = 0) -> datetime:
    """The start of the slot `now` falls in, the boundaries shifted by `offset` minutes."""
    if offset:
        return _aligned(now - timedelta(minutes=offset), interval_minutes) + timedelta(
            minutes=offset)
    return _aligned(now, interval_minutes)


def _aligned(now: datetime, interval_minutes: int) -> datetime:
    if interval_minutes < 1:
        raise ValueError("interval must be at least one minute")
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = int((now - midnight).total_seconds() // 60)
    if interval_minutes <= DAY_MINUTES and DAY_MINUTES % interval_minutes == 0:
        return midnight + timedelta(minutes=minutes - minutes % interval_minutes)
    # Intervals that do not divide a day (e.g. 7 minutes, 2 days) count from the epoch.
    epoch_minutes = int(now.timestamp() // 60)
    start = epoch_minutes - epoch_minutes % interval_minutes
    return datetime.fromtimestamp(start * 60, UTC)


def slot_key(now: datetime, interval_minutes: int, offset: int = 0) -> str:
    """The slot as stored in `sync_runs.slot`; it names the interval so that a changed
    interval starts its own sequence of slots instead of colliding with the old one."""
    start = slot_start(now, interval_minutes, offset)
    return f"{start.strftime('%Y-%m-%dT%H:%MZ')}/{interval_minutes}m"
