"""How every order event task runs: load the delivery, lock the order, apply, record.

    @spocc_task("spocc.orders.paid", queue="orders", base=OrderTask, ...)
    def paid(self, connection_id, delivery_id):
        return engine.run(self, connection_id, delivery_id, apply_payment)

- The delivery row is re-read (tasks never trust arguments); a finished one is skipped, so
  a redelivered or swept message is a no-op.
- The order's `order_states` row is locked `FOR UPDATE` for the whole application: two
  events of one order never run at once, and the state they read is the state they write.
- A handler raises `Wait` when its predecessor (registration) is not done: the delivery is
  held, retried shortly a few times, then left to the sweeper's schedule; a successful
  registration releases every held event of its order at once.
- Retryable errors are retried by the task base (backoff capped at 5 min); permanent ones
  and exhausted retries become dead letters, and the delivery is marked dead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import clients
from clients.errors import RetryableError
from clients.plentyone import PlentyOneClient
from clients.ratelimit import ORDERS
from clients.spocc import SpoccClient
from schemas.config import ConnectionConfig
from schemas.webhooks import EVENTS
from store.models import EventDelivery, utcnow
from store.order_models import DONE, FAILED, OrderState
from workers import logs, runtime
from workers.task_base import SpoccTask

log = logging.getLogger(__name__)

# Delivery statuses that are final: the sweeper leaves them alone, a redelivery skips them.
FINAL = ("done", "refused", "blocked")
SHORT_HOLDS = 3  # short retries (1, 2, 4 s) before a held event waits for the sweeper
HOLD_INTERVAL = timedelta(seconds=60)
SWEEP_GRACE = timedelta(seconds=60)
LOCK_TIMEOUT_MS = 30_000


class Wait(Exception):
    """The event's predecessor is not done yet: hold the event (not a failure) and look
    again after `after` unless the predecessor's success releases it first."""

    def __init__(self, message: str, after: timedelta = HOLD_INTERVAL) -> None:
        super().__init__(message)
        self.after = after


class Blocked(Exception):
    """The order is not exported (an export rule): its other events are not either."""


class OrderBusy(RetryableError):
    """Another event of the same order held its lock for too long."""


@dataclass
class Context:
    """What a handler gets: the connection, the locked order, the delivery, the clients."""

    conn: ConnectionConfig
    session: Session
    delivery: EventDelivery
    state: OrderState
    release: list[tuple[str, int]] = field(default_factory=list)

    @cached_property
    def plenty(self) -> PlentyOneClient:
        return _clients(self.conn)[0]

    @cached_property
    def spocc(self) -> SpoccClient:
        return _clients(self.conn)[1]

    def spocc_key(self, what: str, order_id: int | None = None) -> str:
        """The SPoCC Idempotency-Key of an effect, derived from our own key of it."""
        return f"spocc-connector:{self.conn.id}:{what}:{order_id or self.state.plenty_order_id}"

    def set_status(self, outcome: str, order_id: int | None = None) -> str | None:
        """Write the configured status of `outcome` back to PlentyONE (None: leave it)."""
        status = self.conn.status(outcome)
        if status is None:
            return None
        target = order_id or self.state.plenty_order_id
        self.plenty.set_order_status(target, float(status))
        if target == self.state.plenty_order_id:
            self.state.plenty_status = status
        return status

    def release_held(self) -> None:
        """After registration: every held event of this order (and of its returns) goes."""
        returns = select(OrderState.plenty_order_id).where(
            OrderState.connection_id == self.conn.id,
            OrderState.parent_order_id == self.state.plenty_order_id,
        )
        rows = self.session.execute(
            select(EventDelivery).where(
                EventDelivery.connection_id == self.conn.id,
                EventDelivery.status.in_(("held", "failed")),
                EventDelivery.id != self.delivery.id,
                or_(EventDelivery.order_id == self.state.plenty_order_id,
                    EventDelivery.order_id.in_(returns)),
            )
        ).scalars()
        for row in rows:
            row.next_attempt_at = utcnow() + SWEEP_GRACE
            self.release.append((row.event_type, row.id))


_CLIENTS: dict[Any, tuple[PlentyOneClient, SpoccClient]] = {}
def _clients(conn: ConnectionConfig) -> tuple[PlentyOneClient, SpoccClient]:
    # One pair per process and connection settings: HTTP pools and limiters are reused.
    key = (conn.id, conn.plentyone, conn.spocc)
    pair = _CLIENTS.get(key)
    if pair is None:
        redis, budget = runtime.redis_client(), runtime.settings().call_budget
        pair = (clients.build_plentyone(conn, redis, priority=ORDERS, call_budget=budget),
                clients.build_spocc(conn, redis, priority=ORDERS, call_budget=budget))
        _CLIENTS[key] = pair
    return pair


def lock_order(session: Session, connection_id: str, order_id: int,
               parent_order_id: int | None = None) -> OrderState:
    """The order's state row, created if new, locked until the session ends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    session.execute(
        insert(OrderState)
        .values(connection_id=connection_id, plenty_order_id=order_id,
                parent_order_id=parent_order_id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["connection_id", "plenty_order_id"])
    )
    if dialect == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
    else:
        # SQLite has no row locks: a write takes the database's write lock for the rest of
        # the transaction, which serialises (all) order events in the embedded setup.
        session.execute(update(OrderState).where(
            OrderState.connection_id == connection_id,
            OrderState.plenty_order_id == order_id).values(updated_at=now))
    try:
        return session.execute(
            select(OrderState)
            .where(OrderState.connection_id == connection_id,
                   OrderState.plenty_order_id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
    except OperationalError as exc:
        raise OrderBusy(f"order {order_id} is busy: {type(exc.orig).__name__}") from None


def enqueue(event_type: str, connection_id: str, delivery_id: int,
            countdown: float | None = None) -> None:
    from workers.celery_app import app

    app.send_task(EVENTS[event_type],
                  kwargs={"connection_id": connection_id, "delivery_id": delivery_id},
                  queue="orders", countdown=countdown)


def _mark(delivery_id: int, **values: Any) -> None:
    with runtime.db() as session:
        session.execute(update(EventDelivery).where(EventDelivery.id == delivery_id)
                        .values(updated_at=utcnow(), **values))


Handler = Callable[[Context], str]


def run(task: Any, connection_id: str, delivery_id: int, handler: Handler,
        lock_order_id: Callable[[ConnectionConfig, EventDelivery], int] | None = None) -> str:
    """Apply one order event (see the module doc); returns the delivery's new status."""
    with runtime.db() as session:
        delivery = session.get(EventDelivery, delivery_id)
        if delivery is None or delivery.connection_id != connection_id:
            log.warning("event %s of %s does not exist", delivery_id, connection_id)
            return "missing"
        if delivery.status in FINAL:
            return delivery.status
        limit = runtime.settings().task_time_limit
        delivery.status, delivery.attempts = "running", delivery.attempts + 1
        delivery.next_attempt_at = utcnow() + timedelta(seconds=limit) + SWEEP_GRACE
        order_id = delivery.order_id
        logs.bind(order=order_id)  # every later line of this task names the order
        conn = runtime.connection(connection_id, session)
    target = order_id
    if lock_order_id is not None:
        with runtime.db() as session:
            probe = session.get(EventDelivery, delivery_id)
            assert probe is not None
            target = lock_order_id(conn, probe)
    release: list[tuple[str, int]] = []
    try:
        with runtime.db() as session:
            state = lock_order(session, connection_id, target)
            delivery = session.get(EventDelivery, delivery_id, populate_existing=True)
            assert delivery is not None
            if delivery.status in FINAL:
                return delivery.status
            ctx = Context(conn, session, delivery, state)
            try:
                outcome = handler(ctx)
            except Wait as wait:
                delivery.status, delivery.last_error = "held", str(wait)
                delivery.next_attempt_at = utcnow() + wait.after
                outcome = "held"
            except Blocked as blocked:
                delivery.status, delivery.last_error = "blocked", str(blocked)
                delivery.next_attempt_at = None
                outcome = "blocked"
            else:
                delivery.status = outcome
                delivery.last_error = state.cause if outcome != "done" else None
                delivery.next_attempt_at = None if outcome in FINAL or outcome == "waiting" \
                    else utcnow() + HOLD_INTERVAL
            release = ctx.release
    except RetryableError as exc:
        _mark(delivery_id, status="failed", last_error=f"{type(exc).__name__}: {exc}"[:2000],
              next_attempt_at=utcnow() + timedelta(seconds=300) + SWEEP_GRACE)
        raise
    except Exception as exc:
        _mark(delivery_id, last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    for event, held_id in release:
        enqueue(event, connection_id, held_id)
    if outcome == "held" and (task.request.retries or 0) < SHORT_HOLDS \
            and not task.request.is_eager:
        raise task.retry(countdown=2 ** (task.request.retries or 0), max_retries=None)
    return outcome


class OrderTask(SpoccTask):
    """An order event task: a dead letter marks its delivery dead (and, for a registration,
    the order failed with status 6.1)."""

    abstract = True

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
        try:
            conn = runtime.connection(delivery.connection_id)
            status = conn.status("registration_failed")
            if status is not None:
                _clients(conn)[0].set_order_status(delivery.order_id, float(status))
                if state is not None:
                    state.plenty_status = status
        except Exception:
            log.warning("could not set the failure status of order %s", delivery.order_id,
                        exc_info=True)
