"""How every task runs (`declare.py` declares it: name, queue, limits and retry policy).

Each execution is an `attempts` row naming its subject (the work: `delivery:42`, `unit:7`),
whatever message carried it. Work that keeps killing its worker, keeps hitting its time
limit or keeps failing is refused at `SPOCC_ATTEMPT_CAP` counted attempts of its subject,
across task ids (sweepers re-send under new ids), and becomes a dead letter naming the
cause. A task that fails for good becomes a dead letter an operator can replay; one letter
per subject, resolved on its own when later work on the same subject succeeds. A task that
must wait (a hold, a rate budget) calls `self.defer(countdown, reason)`: that is no attempt
and uses up none of its retries.
"""

from __future__ import annotations

import logging
import random
import traceback
from datetime import datetime, timedelta
from typing import Any, NoReturn

import redis
from billiard.exceptions import WorkerLostError
from celery import Task
from celery.app.task import X_DEATH_HEADERS
from celery.exceptions import Ignore, Retry, SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init
from celery.worker.request import Request

from clients import exchange as http_exchange
from clients.errors import RateLimitTimeout, RetryableError
from store import attempts, dead_letters, exchanges
from store.db import database_blip, forget_inherited_connections
from store.models import utcnow
from workers import runtime
from workers.celery_app import TASK_QUEUES

logger = logging.getLogger(__name__)

# Header set on a message sent by `spocc dlq replay`: the dead letter's id.
REPLAY_HEADER = "spocc_replay_of"
# An attempt still "running" this long after the hard time limit has no process any more.
_GRACE = timedelta(seconds=60)
# A message that found the database away (after a few tries) comes back this much later.
_DATABASE_AWAY_COUNTDOWN = 5.0


class PoisonMessage(Exception):
    """The work reached the attempt cap; it is not run again."""


class Deferred(Ignore):
    """Raised by `SpoccTask.defer`: the work was re-queued for later, nothing failed."""

    def __init__(self, countdown: float, reason: str) -> None:
        super().__init__(countdown, reason)
        self.countdown, self.reason = countdown, reason

    def __reduce__(self) -> tuple[Any, ...]:  # it may travel to the worker's main process
        return (Deferred, (self.countdown, self.reason))


class SpoccRequest(Request):
    """The worker's main process sees what the task's own process cannot report: the
    process was lost, or killed at the hard time limit. Recorded on the attempt before the
    message is requeued, so the next execution counts it."""

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = exc_info.exception
        exc = getattr(exc, "exc", exc)  # ExceptionWithTraceback
        if isinstance(exc, TimeLimitExceeded):
            limit = exc.args[0] if exc.args else "?"
            _ended_by_worker(
                self.id, attempts.TIMEOUT, f"killed at the hard time limit ({limit} s)"
            )
        elif isinstance(exc, WorkerLostError):
            _ended_by_worker(self.id, attempts.LOST, f"worker lost: {exc}")
        return super().on_failure(exc_info, send_failed_event=send_failed_event,
                                  return_ok=return_ok)


def _ended_by_worker(task_id: str, outcome: str, error: str) -> None:
    try:
        runtime.db_blip_proof(lambda s: attempts.ended_by_worker(s, task_id, outcome, error))
    except Exception:  # the main process must go on; the next execution counts it as lost
        logger.warning("could not record %s of %s", outcome, task_id, exc_info=True)


@worker_process_init.connect
def _own_connections(**_: Any) -> None:
    # A pool process forked after the main process used the database must not share its
    # connections.
    forget_inherited_connections()


class SpoccTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    # A message killed at the hard time limit is requeued (like one whose worker died), so
    # it meets the attempt cap instead of vanishing; a plain failure is still removed.
    acks_on_failure_or_timeout = False
    Request = "workers.task_base:SpoccRequest"
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300  # minutes at most: longer waits belong in a database schedule
    retry_jitter = True
    # Sent by beat (`spocc_task(periodic=True)`): its next tick is its retry.
    periodic = False

    def connection_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        value = kwargs.get("connection_id")
        if value is None and args and isinstance(args[0], str):
            value = args[0]
        return value if isinstance(value, str) else None

    def delivery_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
        value = kwargs.get("delivery_id")
        return value if isinstance(value, int) else None

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """What the work is about, whatever message carries it ("delivery:42", "unit:7",
        "planner:run:3", "writeback:9"). Attempts are capped and dead letters kept per
        subject; None makes the message's own task id the subject."""
        return None

    def out_of_budget(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                      exc: RateLimitTimeout) -> Deferred:
        """The connection's rate budget has no slot for more than a moment: hand the worker
        back to other work until it refills (a deferral). A task holding a lease gives it
        back here (`before_deferral`)."""
        countdown = max(1.0, exc.retry_after or 1.0) + random.uniform(0.0, 1.0)
        cap = max(1.0, runtime.settings().visibility_timeout / 2)
        countdown = min(countdown, cap)  # a longer countdown would be redelivered early
        self.before_deferral(args, kwargs, countdown)
        return Deferred(countdown, f"waits for its rate budget: {exc}")

    def before_deferral(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                        countdown: float) -> None:
        """What the task holds that the deferred message must find free."""

    def defer(self, countdown: float, reason: str) -> NoReturn:
        """Come back in `countdown` seconds: the same work, the same task id, recorded as a
        "deferred" attempt that is not counted and uses up none of `max_retries`."""
        raise Deferred(countdown, reason)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if task_id is None or self.request.is_eager:
            return super().__call__(*args, **kwargs)
        started = utcnow()
        http_exchange.clear()  # what an earlier task in this process called is not ours
        subject = self.subject_of(args, kwargs)
        replay_of = self._replay_of()

        def open_attempt(session: Any) -> tuple[attempts.Tally, int]:
            tally = attempts.tally(
                session,
                task_id=task_id,
                subject=subject,
                dead_before=started - timedelta(seconds=self._hard_limit()) - _GRACE,
                own_message_only=replay_of is not None,
            )
            attempt_id, _ = attempts.start(
                session, task_id, self.name, self.connection_of(args, kwargs),
                self.delivery_of(args, kwargs), subject,
            )
            return tally, attempt_id

        try:
            tally, attempt_id = runtime.db_blip_proof(open_attempt)
        except Exception as exc:
            if not database_blip(exc):
                raise
            # Nothing ran and nothing can be recorded. A failure would be removed from the
            # queue with no letter written (the letter needs the database too), so the
            # message comes back instead, as often as it takes.
            self._database_away(replay_of, exc)
        if tally.total >= runtime.settings().attempt_cap:
            cause = tally.cause()
            try:
                self._finish(attempt_id, "poison", started, cause)
                # the letter counts the subject's attempts once, however often it is refused
                self._dead_letter(args, kwargs, PoisonMessage(cause), tally.total,
                                  counted=replay_of is None)
            except Exception as exc:
                if not database_blip(exc):
                    raise
                self._database_away(replay_of, exc)
            return None
        try:
            try:
                result = super().__call__(*args, **kwargs)
            except RateLimitTimeout as exc:
                raise self.out_of_budget(args, kwargs, exc) from exc
        except Deferred as deferred:
            # recorded first: the next execution must not take this one for a lost worker
            self._finish(attempt_id, "deferred", started, deferred.reason)
            self._send_again(deferred.countdown, replay_of)
            raise Ignore(deferred.reason) from None  # acknowledged: the new message carries on
        except Retry as exc:
            cause = exc.exc or exc
            outcome = attempts.SOFT_TIMEOUT if isinstance(cause, SoftTimeLimitExceeded) else "retry"
            self._finish(attempt_id, outcome, started, _describe(cause))
            raise
        except SoftTimeLimitExceeded as exc:  # its retries are used up
            self._finish(attempt_id, attempts.SOFT_TIMEOUT, started, _describe(exc))
            raise
        except Exception as exc:
            self._finish(attempt_id, attempts.FAILED, started, _describe(exc))
            raise
        # Anything else (SystemExit on the SIGTERM before the hard time limit's SIGKILL, a
        # shutdown) leaves the attempt running: the main process records what ended it.
        def close_attempt(session: Any) -> None:
            attempts.finish(session, attempt_id, attempts.SUCCESS, started)
            if subject is not None:
                dead_letters.resolve_subject(
                    session, subject, f"{self.name} succeeded on {subject} (task {task_id})"
                )
            if replay_of is not None:
                dead_letters.resolve_replayed(session, task_id)

        try:
            runtime.db_blip_proof(close_attempt)
        except Exception as exc:
            if not database_blip(exc):
                raise
            # The work is done: failing it now would have it dead-lettered or done twice.
            # Its attempt stays "running" until a later execution of the subject marks it.
            logger.warning("%s succeeded but its attempt could not be recorded: %s",
                           self.name, _describe(exc))
        return result

    def _database_away(self, replay_of: int | None, exc: BaseException) -> NoReturn:
        countdown = _DATABASE_AWAY_COUNTDOWN + random.uniform(0.0, 2.0)
        logger.warning("%s not started, the database is away (%s): sent again in %.0f s",
                       self.name, _describe(exc), countdown)
        self._send_again(countdown, replay_of)
        raise Ignore("the database is away") from None

    def _send_again(self, countdown: float, replay_of: int | None) -> None:
        """The same message later: same task id, arguments and retry count."""
        # Not the `x-death` headers of a trip through RabbitMQ's delay queues: before 4.0.1
        # it drops a message that dies again in a queue they name (celery#9867).
        headers = {k: v for k, v in (self.request.headers or {}).items()
                   if k not in X_DEATH_HEADERS}
        if replay_of is not None:
            headers[REPLAY_HEADER] = str(replay_of)
        self.signature_from_request(countdown=countdown, headers=headers).apply_async()

    def _hard_limit(self) -> float:
        return float(self.time_limit or runtime.settings().task_time_limit)

    def _replay_of(self) -> int | None:
        # Celery puts custom message headers on the request itself (and, in some versions,
        # also under request.headers).
        headers = self.request.headers or {}
        value = headers.get(REPLAY_HEADER, getattr(self.request, REPLAY_HEADER, None))
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    def _finish(
        self, attempt_id: int, outcome: str, started: datetime, error: str | None = None
    ) -> None:
        def record(session: Any) -> None:
            attempts.finish(session, attempt_id, outcome, started, error)
            if outcome != "success":
                _keep_exchange(session, attempt_id=attempt_id)

        runtime.db_blip_proof(record)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, TimeLimitExceeded):
            # Called in the worker's main process (Celery ≥ 5.6): SpoccRequest recorded the
            # time-out and the message is requeued to meet the attempt cap.
            return
        if self.periodic and passing_fault(exc):
            # Beat sends it again within a tick; a letter would call a person for a blip.
            # The attempt row keeps the cause, and a database that stays away is
            # `spocc status`'s exit 2.
            logger.warning("%s met %s; beat sends it again at its next tick",
                           self.name, _describe(exc))
            return
        try:
            self._dead_letter(tuple(args or ()), dict(kwargs or {}), exc,
                              (self.request.retries or 0) + 1)
        except Exception as letter_exc:
            if not database_blip(letter_exc):
                raise
            # The failed message is removed from the queue: without its letter it would be
            # lost. It comes back, fails again and is lettered once the database is back.
            logger.warning("%s failed (%s) and its letter could not be written: %s",
                           self.name, _describe(exc), _describe(letter_exc))
            self._send_again(_DATABASE_AWAY_COUNTDOWN, self._replay_of())

    def _dead_letter(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException,
        count: int,
        counted: bool = False,
    ) -> None:
        delivery_info = self.request.delivery_info or {}
        queue = delivery_info.get("routing_key") or TASK_QUEUES.get(self.name, "default")
        def add(session: Any) -> None:
            letter = dead_letters.add(
                session,
                task_name=self.name,
                task_id=self.request.id or "",
                queue=str(queue),
                connection_id=self.connection_of(args, kwargs),
                args=args,
                kwargs=kwargs,
                last_error=_describe(exc, with_trace=True),
                attempts=count,
                attempts_are_total=counted,
                subject=self.subject_of(args, kwargs),
                replay_of=self._replay_of(),
            )
            _keep_exchange(session, dead_letter_id=letter.id)
            self.on_dead_letter(session, letter.id, args, kwargs, exc)

        runtime.db_blip_proof(add)

    def on_dead_letter(
        self,
        session: Any,
        dead_letter_id: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException,
    ) -> None:
        """Domain hook: e.g. mark the delivery dead and set the order's failure status."""


def passing_fault(exc: BaseException) -> bool:
    """A fault of the moment, not of the work: a dropped database connection, Redis away,
    an API's 5xx or 429, the soft time limit."""
    return database_blip(exc) or isinstance(
        exc, RetryableError | SoftTimeLimitExceeded | redis.exceptions.ConnectionError
    )


def _keep_exchange(session: Any, **owner: int) -> None:
    """The last HTTP exchange of this execution, scrubbed, on the failed attempt or letter."""
    last = http_exchange.last()
    if last is not None:
        exchanges.record(session, last.stored(), **owner)


def _describe(exc: BaseException, with_trace: bool = False) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if with_trace and exc.__traceback__ is not None:
        tail = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        text = f"{text}\n{tail}"
    return text
