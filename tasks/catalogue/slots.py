"""Clock-aligned schedule slots: every beat computes the same slot for the same moment.

A slot is the interval's boundary in UTC at or before the tick, counted from midnight UTC
(15-minute slots at :00, :15, :30, :45; daily slots at 00:00), never from when beat started.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_MINUTES = 24 * 60


def slot_start(now: datetime, interval_minutes: int) -> datetime:
    """The start of the slot `now` falls in."""
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


def slot_key(now: datetime, interval_minutes: int) -> str:
    """The slot as stored in `sync_runs.slot`; it names the interval so that a changed
    interval starts its own sequence of slots instead of colliding with the old one."""
    start = slot_start(now, interval_minutes)
    return f"{start.strftime('%Y-%m-%dT%H:%MZ')}/{interval_minutes}m"
