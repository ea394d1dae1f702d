"""Leases on catalogue work: a unit or a planner that a worker took is its worker's only while
the worker keeps renewing the lease in SQL; once it runs out the sweeper sends the work again,
whatever the broker holds (reliability.md, "Leases, not hopes").

- A unit is claimed by one conditional UPDATE (pending, or running with its lease run out),
  committed at once; a worker that cannot claim it leaves it to its holder.
- While the unit runs, `Renewal` pushes its `lease_until` forward every `RENEW` seconds from
  a thread of its own; a killed worker stops renewing.
- A unit sent but not yet started holds `lease_until` = sent + `PENDING_GRACE`: a message
  lost with Redis is found from SQL the same way. A copy sent while the first still waits in
  the queue is harmless: only one of them claims the unit.
- The planner's lease is `sync_runs.planner_until`, pushed forward by each page it plans and
  by the message it sends itself to go on.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from store.catalogue_models import OPEN_RUN, OPEN_UNIT, SyncUnit
from store.models import Connection, SyncRun, utcnow
from workers import runtime

log = logging.getLogger(__name__)

LEASE = float(os.environ.get("SPOCC_CATALOGUE_LEASE_SECONDS", "60"))
RENEW = float(os.environ.get("SPOCC_CATALOGUE_LEASE_RENEW_SECONDS", "20"))
PENDING_GRACE = float(os.environ.get("SPOCC_CATALOGUE_PENDING_GRACE_SECONDS", "600"))


def new_owner(what: str) -> str:
    return f"{what}:{uuid.uuid4().hex[:20]}"


def lease_end(seconds: float = LEASE) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def pending_until() -> datetime:
    """Until when a unit just sent waits for its message before it is sent again."""
    return lease_end(PENDING_GRACE)


def claim_unit(session: Session, unit_id: int, owner: str,
               cap: int | None = None) -> tuple[SyncUnit | None, str]:
    """Take the unit for `owner`: (unit, "claimed"), or (None, "held") while another worker
    holds its lease, (None, "busy") while `cap` units of its connection run already (its
    share, `share.concurrency`), or (None, "final") when it is done. The caller commits at
    once.

    A dead unit is claimed only by `spocc dlq replay` sending it again: its failures are
    taken off its run's count, to be counted anew.
    """
    unit = session.get(SyncUnit, unit_id, populate_existing=True)
    if unit is None or unit.status not in (*OPEN_UNIT, "dead"):
        return None, "final"
    now = utcnow()
    replay = unit.status == "dead"
    if replay:
        claimable = SyncUnit.status == "dead"
    else:
        claimable = or_(
            SyncUnit.status == "pending",
            and_(
                SyncUnit.status == "running",
                or_(SyncUnit.lease_until.is_(None), SyncUnit.lease_until < now),
            ),
        )
    if cap is not None:
        claimable = and_(claimable, _below(session, unit.connection_id, cap, now))
    taken = session.execute(
        update(SyncUnit)
        .where(SyncUnit.id == unit_id, claimable)
        .values(
            status="running",
            lease_owner=owner,
            lease_until=now + timedelta(seconds=LEASE),
            attempts=SyncUnit.attempts + 1,
            # running with its lease run out: the worker that had it died
            lost=0 if replay else SyncUnit.lost + case((SyncUnit.status == "running", 1), else_=0),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        if cap is not None and _running(session, unit.connection_id, now) >= cap:
            return None, "busy"
        return None, "held"
    if replay:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == unit.run_id)
            .values(failed=SyncRun.failed - unit.failed)
        )
        session.execute(update(SyncUnit).where(SyncUnit.id == unit_id).values(failed=0))
    session.refresh(unit)
    return unit, "claimed"


def _running_units(connection_id: str, now: datetime) -> Any:
    return (select(func.count()).select_from(SyncUnit)
            .where(SyncUnit.connection_id == connection_id, SyncUnit.status == "running",
                   SyncUnit.lease_until >= now)
            .scalar_subquery())


def _below(session: Session, connection_id: str, cap: int, now: datetime) -> Any:
    """The claim's own condition: fewer than `cap` of the connection's units hold a live
    lease. Checked inside the claim's UPDATE; on PostgreSQL the connection's row is locked
    first, so two claims at once cannot both see room for one."""
    session.execute(select(Connection.id).where(Connection.id == connection_id)
                    .with_for_update())
    return _running_units(connection_id, now) < cap


def _running(session: Session, connection_id: str, now: datetime) -> int:
    return int(session.execute(select(_running_units(connection_id, now))).scalar_one())


def held_for(session: Session, unit_id: int) -> float | None:
    """Seconds until the lease of a running unit runs out; None when it is not running."""
    row = session.execute(
        select(SyncUnit.status, SyncUnit.lease_until).where(SyncUnit.id == unit_id)
    ).one_or_none()
    if row is None or row[0] != "running" or row[1] is None:
        return None
    until = row[1] if row[1].tzinfo is not None else row[1].replace(tzinfo=UTC)
    return max(0.0, (until - utcnow()).total_seconds())


def renew_unit(session: Session, unit_id: int, owner: str) -> bool:
    """Push the unit's lease forward if `owner` still holds it."""
    done = session.execute(
        update(SyncUnit)
        .where(
            SyncUnit.id == unit_id, SyncUnit.lease_owner == owner, SyncUnit.status == "running"
        )
        .values(lease_until=lease_end())
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def release_unit(session: Session, unit_id: int, owner: str, seconds: float) -> bool:
    """Give the unit back, pending, for a deferral of `seconds`: its claim was no attempt,
    and the sweeper leaves it alone until the deferred message is due."""
    done = session.execute(
        update(SyncUnit)
        .where(SyncUnit.id == unit_id, SyncUnit.lease_owner == owner,
               SyncUnit.status == "running")
        .values(status="pending", lease_owner=None, attempts=SyncUnit.attempts - 1,
                lease_until=utcnow() + timedelta(seconds=seconds + PENDING_GRACE))
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def postpone_unit(session: Session, unit_id: int, seconds: float) -> None:
    """A pending unit whose message comes back in `seconds` (deferred before its claim): the
    sweeper leaves it alone until then."""
    session.execute(
        update(SyncUnit)
        .where(SyncUnit.id == unit_id, SyncUnit.status == "pending")
        .values(lease_until=utcnow() + timedelta(seconds=seconds + PENDING_GRACE))
        .execution_options(synchronize_session=False)
    )


def renew_planner(session: Session, run_id: int, seconds: float = LEASE) -> None:
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.status.in_(OPEN_RUN))
        .values(planner_until=lease_end(seconds))
        .execution_options(synchronize_session=False)
    )


def expired_units(session: Session, now: datetime, limit: int = 500) -> list[SyncUnit]:
    """Open units of open runs whose lease (or wait for their message) ran out."""
    return list(
        session.execute(
            select(SyncUnit)
            .join(SyncRun, SyncRun.id == SyncUnit.run_id)
            .where(
                SyncRun.status.in_(OPEN_RUN),
                SyncUnit.status.in_(("pending", "running")),
                or_(SyncUnit.lease_until.is_(None), SyncUnit.lease_until < now),
            )
            .order_by(SyncUnit.id)
            .limit(limit)
        ).scalars()
    )


def resend(session: Session, units: list[SyncUnit], now: datetime) -> None:
    """Mark units as sent again: a running one lost its worker (counted on the row)."""
    for unit in units:
        if unit.status == "running":
            unit.lost += 1
        unit.status = "pending"
        unit.lease_owner = None
        unit.lease_until = pending_until()
    session.flush()


class Renewal:
    """Calls `renew` every `RENEW` seconds in a thread while the block runs (`with`).

    A database error is logged and tried again at the next tick: the lease has two more
    ticks to run before it expires."""

    def __init__(self, name: str, renew: Callable[[Session], object]) -> None:
        self.renew = renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> Renewal:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(max(0.5, RENEW)):
            try:
                with runtime.db() as session:
                    self.renew(session)
            except Exception:
                log.warning("lease renewal failed; trying again", exc_info=True)
