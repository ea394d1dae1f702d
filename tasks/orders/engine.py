"""How every order event task runs: re-read, decide, commit, call, record.

    @spocc_task("spocc.orders.paid", queue="orders", base=OrderTask, ...)
    def paid(self, connection_id, delivery_id):
        return engine.run(self, connection_id, delivery_id, apply_payment)

1. Re-read the delivery (tasks never trust arguments); a finished one is skipped, one that
   another live run holds is left to it.
2. Decide and commit (`claim.py`): take the order's lease (`lease.py`, a conditional UPDATE)
   and mark the delivery running, in one short transaction. An order whose lease another
   event holds is not an attempt: the task is sent again in a few seconds (a deferral).
3. Call: the handler talks to PlentyONE and SPoCC with no transaction open, on a snapshot of
   the order's state, while a thread renews the lease.
4. Record: the handler's changes to the order, the delivery's outcome, the status write-backs
   it queued (`writeback.py`) and the release of held events, in one transaction fenced by
   the lease (`WHERE lease_owner = :me`); then the write-backs and released events are sent.

A handler raises `Wait` when its predecessor (registration) is not done: the delivery is held
(not an attempt, and no Celery retry), looked at again every 2 s while the event is young,
then left to the sweeper's schedule (every minute); a successful registration releases
every held event of its order at once. Retryable errors are retried by the task base;
permanent ones become dead letters and the delivery is dead. Attempts are counted on the
delivery row, across task ids: at `SPOCC_ATTEMPT_CAP` the event is one dead letter naming
what its last attempt met.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from clients.errors import CircuitOpen, RateLimitTimeout, RetryableError
from clients.plentyone import PlentyOneClient
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from schemas.webhooks import EVENTS
from store.db import database_blip
from store.models import EventDelivery, utcnow
from store.order_models import DONE, FAILED, OrderState
from tasks.orders import bodies, claim, health, lease, writeback
from tasks.orders.claim import FINAL
from tasks.orders.wiring import api_clients, enqueue, enqueue_writeback
from workers import logs, runtime
from workers.task_base import SpoccTask

log = logging.getLogger(__name__)

# A held event this young is looked at again every 2 s; older, it waits for the sweeper.
SHORT_HOLDS = timedelta(seconds=15)
HOLD_INTERVAL = timedelta(seconds=60)
SWEEP_GRACE = timedelta(seconds=60)
STATE_COLUMNS = tuple(c.key for c in OrderState.__table__.columns
                      if c.key not in ("id", "lease_owner", "lease_until", "created_at"))


class Wait(Exception):
    """The event's predecessor is not done yet: hold the event (not a failure) and look
    again after `after` unless the predecessor's success releases it first."""

    def __init__(self, message: str, after: timedelta = HOLD_INTERVAL) -> None:
        super().__init__(message)
        self.after = after


class Blocked(Exception):
    """The order is not exported (an export rule): its other events are not either."""


class AttemptsExhausted(Exception):
    """The delivery used up its attempts (`SPOCC_ATTEMPT_CAP`, counted on its row)."""


class LeaseLost(RetryableError):
    """Another run took the order's lease while this one worked: nothing was recorded."""


class DatabaseUnavailable(RetryableError):
    """The database connection broke (e.g. terminated by the server): try again."""


def _snapshot(row: OrderState) -> dict[str, Any]:
    return {key: getattr(row, key) for key in STATE_COLUMNS}


@dataclass
class Context:
    """What a handler gets: the connection, the leased order (a detached snapshot it may
    change), the delivery, the clients. No session: the handler holds nothing open."""

    conn: ConnectionConfig
    delivery: EventDelivery
    state: OrderState
    owner: str
    rows: dict[int, tuple[OrderState, dict[str, Any]]] = field(default_factory=dict)
    writebacks: list[tuple[int, str, str]] = field(default_factory=list)
    releases: bool = False

    @cached_property
    def plenty(self) -> PlentyOneClient:
        return api_clients(self.conn)[0]

    @cached_property
    def spocc(self) -> SpoccClient:
        return api_clients(self.conn)[1]

    def spocc_key(self, what: str, order_id: int | None = None) -> str:
        """The SPoCC Idempotency-Key of an effect, derived from our own key of it."""
        return f"spocc-connector:{self.conn.id}:{what}:{order_id or self.state.plenty_order_id}"

    def row(self, order_id: int) -> OrderState:
        """Another order's state row (a return order's own), changed under this lease."""
        if order_id == self.state.plenty_order_id:
            return self.state
        if order_id not in self.rows:
            with runtime.db() as session:
                lease.ensure_state(session, self.conn.id, order_id)
                found = session.execute(select(OrderState).where(
                    OrderState.connection_id == self.conn.id,
                    OrderState.plenty_order_id == order_id)).scalar_one()
                session.expunge(found)
            self.rows[order_id] = (found, _snapshot(found))
        return self.rows[order_id][0]

    def set_status(self, outcome: str, order_id: int | None = None) -> str | None:
        """Queue the configured status of `outcome` for PlentyONE (None: leave it). It is
        written after this outcome is committed, by its own retried task."""
        status = self.conn.status(outcome)
        if status is not None:
            self.writebacks.append((order_id or self.state.plenty_order_id, status, outcome))
        return status

    def release_held(self) -> None:
        """After registration: every held event of this order (and of its returns) goes."""
        self.releases = True

    def sent_body(self, key: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The body of the SPoCC call under `key`: the one first sent, else `build()`'s."""
        return bodies.sent_body(self.conn.id, key, build)


Handler = Callable[[Context], str]


def _release_held(session: Session, ctx: Context) -> list[tuple[str, int]]:
    """Every held event of the order and of its returns, and those that became dead
    letters while held (`health.py`), due again at once."""
    order_ids = [ctx.state.plenty_order_id, *session.execute(
        select(OrderState.plenty_order_id).where(
            OrderState.connection_id == ctx.conn.id,
            OrderState.parent_order_id == ctx.state.plenty_order_id)).scalars()]
    expired = health.released_with(session, ctx.conn.id, order_ids)
    rows = session.execute(select(EventDelivery).where(
        EventDelivery.connection_id == ctx.conn.id,
        or_(EventDelivery.status.in_(("held", "failed")), EventDelivery.id.in_(expired)),
        EventDelivery.id != ctx.delivery.id,
        EventDelivery.order_id.in_(order_ids))).scalars().all()
    for row in rows:
        row.next_attempt_at = utcnow() + SWEEP_GRACE
        if row.status == "dead":
            row.status = "pending"
    return [(row.event_type, row.id) for row in rows]


def _record(ctx: Context, original: dict[str, Any], delivery: dict[str, Any]
            ) -> tuple[list[tuple[str, int]], list[int]]:
    """Commit the outcome under the lease; returns (released events, write-backs to send)."""
    with runtime.db() as session:
        changes = {k: v for k, v in _snapshot(ctx.state).items() if v != original[k]}
        fenced = session.execute(
            update(OrderState)
            .where(OrderState.id == ctx.state.id, OrderState.lease_owner == ctx.owner)
            .values(**changes, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False))
        if not fenced.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"order {ctx.state.plenty_order_id}: lease lost while applying "
                            f"event {ctx.delivery.id}")
        for row, before in ctx.rows.values():
            other = {k: v for k, v in _snapshot(row).items() if v != before[k]}
            if other:
                session.execute(update(OrderState).where(OrderState.id == row.id)
                                .values(**other).execution_options(synchronize_session=False))
        session.execute(update(EventDelivery).where(EventDelivery.id == ctx.delivery.id)
                        .values(**delivery).execution_options(synchronize_session=False))
        sent = [writeback.queue(session, ctx.conn.id, order_id, status, outcome)
                for order_id, status, outcome in ctx.writebacks]
        released = _release_held(session, ctx) if ctx.releases else []
        if delivery.get("status") in FINAL:
            health.resolve(session, ctx.delivery.id)
    return released, sent


def _give_up(ctx: Context, **delivery: Any) -> None:
    """The run failed: the delivery says why, the order's lease goes back."""
    with runtime.db() as session:
        lease.give_back(session, ctx.state.id, ctx.owner)
        session.execute(update(EventDelivery).where(EventDelivery.id == ctx.delivery.id)
                        .values(updated_at=utcnow(), **delivery)
                        .execution_options(synchronize_session=False))


def _defer(task: Any, event: str, connection_id: str, delivery_id: int,
           after: float | None = None) -> str:
    """Another run holds the order: come back later (not an attempt). A countdown stays
    under half the visibility timeout (a longer one would be redelivered early)."""
    if task.request.is_eager:
        return "busy"
    wait = random.uniform(1.0, 3.0) if after is None else after
    cap = max(1.0, runtime.settings().visibility_timeout / 2)
    enqueue(event, connection_id, delivery_id, countdown=min(wait, cap))
    return "deferred"


def run(task: Any, connection_id: str, delivery_id: int, handler: Handler,
        lock_order_id: Callable[[ConnectionConfig, EventDelivery], int] | None = None) -> str:
    """Apply one order event (see the module doc); returns the delivery's new status."""
    try:
        return _run(task, connection_id, delivery_id, handler, lock_order_id)
    except DBAPIError as exc:
        if database_blip(exc):
            raise DatabaseUnavailable(f"database: {type(exc.orig).__name__}: "
                                      f"{str(exc.orig)[:300]}") from exc
        raise


def _run(task: Any, connection_id: str, delivery_id: int, handler: Handler,
         lock_order_id: Callable[[ConnectionConfig, EventDelivery], int] | None) -> str:
    with runtime.db() as session:
        probe = session.get(EventDelivery, delivery_id)
        if probe is None or probe.connection_id != connection_id:
            log.warning("event %s of %s does not exist", delivery_id, connection_id)
            return "missing"
        if probe.status in FINAL:
            return probe.status
        logs.bind(order=probe.order_id)  # every later line of this task names the order
        conn = runtime.connection(connection_id, session)
        session.expunge(probe)
    target = lock_order_id(conn, probe) if lock_order_id is not None else probe.order_id
    owner = lease.new_owner(f"d{delivery_id}")
    verdict, delivery, state = claim.claim(connection_id, delivery_id, target, owner,
                                           conn.share.orders)
    if verdict == "busy":
        return _defer(task, probe.event_type, connection_id, delivery_id)
    if verdict == "cap" and delivery is not None:
        # Counted on the row, across task ids: a poison event (it keeps killing its worker,
        # or failing) ends as one dead letter that says why, instead of looping.
        task._dead_letter((), {"connection_id": connection_id, "delivery_id": delivery_id},
                          AttemptsExhausted(
                              f"{delivery.event_type} of order {delivery.order_id}: "
                              f"{delivery.attempts} attempts did not succeed; the last: "
                              f"{delivery.last_error or 'no error recorded'}"),
                          delivery.attempts)
        return "dead"
    if verdict == "running":
        # A redelivered message (its worker's pool child was killed, or Redis restored it)
        # looks again when the lease runs out: if that run is gone, this one takes over.
        return _defer(task, probe.event_type, connection_id, delivery_id,
                      claim.lease_left(delivery_id) + 0.5)
    if delivery is None or state is None:
        return verdict
    ctx = Context(conn, delivery, state, owner)
    original = _snapshot(state)
    try:
        with lease.Renewal(state.id, owner, delivery_id):
            outcome, values = _apply(ctx, handler)
    except (CircuitOpen, RateLimitTimeout) as exc:
        # Nothing more was sent: a wait for the breaker's probe or for the connection's rate
        # budget, not an attempt (short retries would otherwise spend every attempt inside
        # one cool-down and kill the event), and the worker is free for other work meanwhile.
        wait = (exc.retry_after or 0.0) + random.uniform(0.5, 2.0)
        _give_up(ctx, status="failed", last_error=f"{type(exc).__name__}: {exc}"[:2000],
                 next_attempt_at=utcnow() + timedelta(seconds=wait) + SWEEP_GRACE,
                 attempts=EventDelivery.attempts - 1)
        return _defer(task, probe.event_type, connection_id, delivery_id, wait)
    except RetryableError as exc:
        # Celery's retry comes within the backoff cap; should its message be lost (Redis
        # restarted empty), the sweeper sends the event once that and a grace have passed.
        backoff = runtime.settings().orders.retry_backoff_max
        _give_up(ctx, status="failed", last_error=f"{type(exc).__name__}: {exc}"[:2000],
                 next_attempt_at=utcnow() + timedelta(seconds=backoff) + SWEEP_GRACE)
        raise
    except Exception as exc:
        _give_up(ctx, last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    try:
        released, sent = _record(ctx, original, values)
    except LeaseLost:
        raise
    except Exception:
        _give_up(ctx, status="failed", next_attempt_at=utcnow() + SWEEP_GRACE)
        raise
    for event, held_id in released:
        enqueue(event, connection_id, held_id)
    for writeback_id in dict.fromkeys(sent):
        enqueue_writeback(connection_id, writeback_id)
    if outcome == "held" and not task.request.is_eager \
            and utcnow() - lease.aware(delivery.created_at) < SHORT_HOLDS:
        # Events of one order often arrive together, out of order: look again shortly. A
        # new message, not a Celery retry, so a hold never uses up max_retries.
        enqueue(probe.event_type, connection_id, delivery_id, countdown=2.0)
    return outcome


def _apply(ctx: Context, handler: Handler) -> tuple[str, dict[str, Any]]:
    """Run the handler; returns (outcome, the delivery's new columns)."""
    now = utcnow()
    try:
        outcome = handler(ctx)
    except Wait as wait:
        # A hold is not an attempt: the claim's count is taken back.
        return "held", {"status": "held", "last_error": str(wait),
                        "next_attempt_at": now + wait.after,
                        "attempts": EventDelivery.attempts - 1}
    except Blocked as blocked:
        return "blocked", {"status": "blocked", "last_error": str(blocked),
                           "next_attempt_at": None}
    later = None if outcome in FINAL or outcome == "waiting" else now + HOLD_INTERVAL
    return outcome, {"status": outcome,
                     "last_error": ctx.state.cause if outcome != "done" else None,
                     "next_attempt_at": later}


def _event_of(task_name: str) -> str:
    return next(event for event, name in EVENTS.items() if name == task_name)


class OrderTask(SpoccTask):
    """An order event task: a dead letter marks its delivery dead (and, for a registration
    SPoCC never applied, the order failed with status 6.1, queued as a write-back)."""

    abstract = True

    @property
    def retry_backoff_max(self) -> int:  # type: ignore[override]
        return runtime.settings().orders.retry_backoff_max

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        delivery_id = kwargs.get("delivery_id")
        return f"delivery:{delivery_id}" if isinstance(delivery_id, int) else None

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        kwargs = dict(kwargs or {})
        if database_blip(exc) and isinstance(kwargs.get("delivery_id"), int):
            # Also where the task base met it (its attempt rows): the event is not at fault.
            log.warning("event %s met a broken database connection; sent again",
                        kwargs["delivery_id"])
            enqueue(_event_of(self.name), kwargs["connection_id"], kwargs["delivery_id"],
                    countdown=2)
            return
        super().on_failure(exc, task_id, args, kwargs, einfo)

    def on_dead_letter(self, session: Any, dead_letter_id: int, args: tuple[Any, ...],
                       kwargs: dict[str, Any], exc: BaseException) -> None:
        delivery_id = kwargs.get("delivery_id")
        if not isinstance(delivery_id, int):
            return
        delivery = session.get(EventDelivery, delivery_id)
        if delivery is None:
            return
        delivery.status, delivery.next_attempt_at = "dead", None
        delivery.last_error = f"dead letter {dead_letter_id}: {type(exc).__name__}: {exc}"[:2000]
        if delivery.event_type == "order-registered":
            self._registration_failed(session, delivery, str(exc))

    def _registration_failed(self, session: Session, delivery: EventDelivery,
                             cause: str) -> None:
        state = session.execute(select(OrderState).where(
            OrderState.connection_id == delivery.connection_id,
            OrderState.plenty_order_id == delivery.order_id)).scalar_one_or_none()
        if state is not None and state.registration == DONE:
            return
        if state is not None:
            state.registration, state.cause = FAILED, f"registration failed: {cause}"[:2000]
        status = runtime.connection(delivery.connection_id, session).status(
            "registration_failed")
        if status is not None:
            writeback_id = writeback.queue(session, delivery.connection_id, delivery.order_id,
                                           status, "registration_failed")
            # Sent once the dead letter's transaction committed (the row must be visible).
            sa_event.listen(session, "after_commit", lambda _s: enqueue_writeback(
                delivery.connection_id, writeback_id), once=True)
