"""Nothing waits unseen: how many order events wait, and for how long; held ones past
their horizon become dead letters.

`deliveries()` counts, per connection, the pending (including failed and retrying), held and
running deliveries with the age of the oldest of each (`spocc status`, the console and the
metrics read it). `expire_held()` (the sweeper, every run) turns a delivery held for longer
than `held_horizon` (72 h, PlentyONE's own resend horizon) into a dead letter that names what
it waits for and the fix; the event stops being re-run every minute. A registration that
succeeds later (resync, replay, release) releases it with the other held events of its order
(`released_with`), and its success resolves the dead letter (`resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from schemas.webhooks import EVENTS
from store import dead_letters
from store.models import DeadLetter, EventDelivery, utcnow
from store.order_models import OrderState
from tasks.orders.lease import aware
from workers import runtime

# Statuses per bucket; "failed" is pending a retry.
BUCKETS = {"pending": ("pending", "failed"), "held": ("held",), "running": ("running",)}
# The task id of a dead letter made for a held event: the release finds it by this.
EXPIRED_PREFIX = "held-expired:"


@dataclass(frozen=True)
class Bucket:
    count: int
    oldest_seconds: float | None  # age of the oldest, None when there is none


def deliveries(connection_id: str | None = None, now: datetime | None = None
               ) -> dict[str, dict[str, Bucket]]:
    """{connection: {"pending" | "held" | "running": Bucket}}, every bucket present. Ages:
    pending and held since accepted, running since the run started."""
    now = now or utcnow()
    statuses = [s for group in BUCKETS.values() for s in group]
    since = func.min(EventDelivery.created_at)
    started = func.min(EventDelivery.updated_at)
    query = (select(EventDelivery.connection_id, EventDelivery.status, func.count(), since,
                    started)
             .where(EventDelivery.status.in_(statuses))
             .group_by(EventDelivery.connection_id, EventDelivery.status))
    if connection_id is not None:
        query = query.where(EventDelivery.connection_id == connection_id)
    with runtime.db() as session:
        rows = session.execute(query).all()
    counts: dict[str, dict[str, tuple[int, datetime | None]]] = {}
    for conn, status, n, oldest, first_start in rows:
        bucket = next(b for b, group in BUCKETS.items() if status in group)
        at = first_start if bucket == "running" else oldest
        have = counts.setdefault(conn, {}).get(bucket, (0, None))
        at = aware(at) if at is not None else None
        earliest = min((t for t in (have[1], at) if t is not None), default=None)
        counts[conn][bucket] = (have[0] + int(n), earliest)
    if connection_id is not None:
        counts.setdefault(connection_id, {})
    return {conn: {b: _bucket(c.get(b), now) for b in BUCKETS} for conn, c in counts.items()}


def _bucket(found: tuple[int, datetime | None] | None, now: datetime) -> Bucket:
    if found is None:
        return Bucket(0, None)
    count, oldest = found
    return Bucket(count, (now - oldest).total_seconds() if oldest is not None else None)


def expire_held(now: datetime | None = None) -> int:
    """Dead-letter the deliveries held past the horizon; returns how many."""
    now = now or utcnow()
    horizon = timedelta(seconds=runtime.settings().orders.held_horizon)
    with runtime.db() as session:
        rows = session.execute(select(EventDelivery).where(
            EventDelivery.status == "held", EventDelivery.created_at < now - horizon)
            .limit(500)).scalars().all()
        for row in rows:
            cause = session.execute(select(OrderState.cause).where(
                OrderState.connection_id == row.connection_id,
                OrderState.plenty_order_id == row.order_id)).scalar_one_or_none()
            letter = dead_letters.add(
                session, task_name=EVENTS[row.event_type], task_id=f"{EXPIRED_PREFIX}{row.id}",
                queue="orders", connection_id=row.connection_id, args=[],
                kwargs={"connection_id": row.connection_id, "delivery_id": row.id},
                last_error=(f"{row.event_type} of order {row.order_id} held for more than "
                            f"{horizon}: it {row.last_error or 'waits for its registration'}"
                            + (f"; the order: {cause}" if cause else "")
                            + f". Fix the cause, then: spocc resync order {row.order_id} "
                              f"--connection {row.connection_id}"),
                attempts=row.attempts)
            row.status, row.next_attempt_at = "dead", None
            row.last_error = f"dead letter {letter.id}: held past {horizon}: {row.last_error}"
        return len(rows)


def released_with(session: Session, connection_id: str, order_ids: list[int]
                  ) -> list[int]:
    """Delivery ids of the order(s) that were dead-lettered while held (to release too)."""
    ids = session.execute(select(EventDelivery.id).where(
        EventDelivery.connection_id == connection_id, EventDelivery.status == "dead",
        EventDelivery.order_id.in_(order_ids))).scalars().all()
    if not ids:
        return []
    wanted = {f"{EXPIRED_PREFIX}{i}": i for i in ids}
    found = session.execute(select(DeadLetter.task_id).where(
        DeadLetter.task_id.in_(list(wanted)),
        DeadLetter.status.in_(("open", "replayed")))).scalars().all()
    return [wanted[t] for t in found]


def resolve(session: Session, delivery_id: int) -> int:
    """The delivery succeeded: the dead letter its hold became is resolved."""
    result = session.execute(
        update(DeadLetter)
        .where(DeadLetter.task_id == f"{EXPIRED_PREFIX}{delivery_id}",
               DeadLetter.status.in_(("open", "replayed")))
        .values(status="resolved", resolved_at=utcnow())
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
