"""How every task is defined: name, queue, limits and retry policy stated at the definition.

Each execution is an `attempts` row; a task that fails for good (retries exhausted or a
permanent error) becomes a dead letter an operator can replay; a message whose worker keeps
dying is capped by the attempt rows it left unfinished, instead of looping forever.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import Retry
from sqlalchemy import func, select

from clients import exchange as http_exchange
from clients.errors import RetryableError
from store import dead_letters, exchanges
from store.models import Attempt, utcnow
from workers import runtime
from workers.celery_app import TASK_QUEUES, app

F = TypeVar("F", bound=Callable[..., Any])

# Header set on a message sent by `spocc dlq replay`: success resolves its dead letter.
REPLAY_HEADER = "spocc_replay_of"


class PoisonMessage(Exception):
    """The message's worker was lost too many times; it is not run again."""


class SpoccTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300  # minutes at most: longer waits belong in a database schedule
    retry_jitter = True

    def connection_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        value = kwargs.get("connection_id")
        if value is None and args and isinstance(args[0], str):
            value = args[0]
        return value if isinstance(value, str) else None

    def delivery_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
        value = kwargs.get("delivery_id")
        return value if isinstance(value, int) else None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if task_id is None or self.request.is_eager:
            return super().__call__(*args, **kwargs)
        started = utcnow()
        http_exchange.clear()  # what an earlier task in this process called is not ours
        connection_id = self.connection_of(args, kwargs)
        with runtime.db() as session:
            lost = session.execute(
                select(func.count()).where(Attempt.task_id == task_id, Attempt.outcome == "running")
            ).scalar_one()
            attempt_id, _ = dead_letters.start_attempt(
                session, task_id, self.name, connection_id, self.delivery_of(args, kwargs)
            )
        if lost >= runtime.settings().attempt_cap:
            self._finish(attempt_id, "poison", started, f"worker lost {lost} times")
            self._dead_letter(
                args, kwargs, PoisonMessage(f"worker lost {lost} times running this message")
            )
            return None
        try:
            result = super().__call__(*args, **kwargs)
        except Retry as exc:
            self._finish(attempt_id, "retry", started, _describe(exc.exc or exc))
            raise
        except BaseException as exc:
            self._finish(attempt_id, "failed", started, _describe(exc))
            raise
        self._finish(attempt_id, "success", started)
        if self._is_replay():
            with runtime.db() as session:
                dead_letters.resolve_replayed(session, task_id)
        return result

    def _is_replay(self) -> bool:
        # Celery puts custom message headers on the request itself (and, in some versions,
        # also under request.headers).
        headers = self.request.headers or {}
        return REPLAY_HEADER in headers or getattr(self.request, REPLAY_HEADER, None) is not None

    def _finish(
        self, attempt_id: int, outcome: str, started: datetime, error: str | None = None
    ) -> None:
        with runtime.db() as session:
            dead_letters.finish_attempt(session, attempt_id, outcome, started, error)
            if outcome != "success":
                _keep_exchange(session, attempt_id=attempt_id)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        self._dead_letter(tuple(args or ()), dict(kwargs or {}), exc)

    def _dead_letter(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BaseException
    ) -> None:
        delivery_info = self.request.delivery_info or {}
        queue = delivery_info.get("routing_key") or TASK_QUEUES.get(self.name, "default")
        with runtime.db() as session:
            letter = dead_letters.add(
                session,
                task_name=self.name,
                task_id=self.request.id or "",
                queue=str(queue),
                connection_id=self.connection_of(args, kwargs),
                args=args,
                kwargs=kwargs,
                last_error=_describe(exc, with_trace=True),
                attempts=(self.request.retries or 0) + 1,
            )
            _keep_exchange(session, dead_letter_id=letter.id)
            self.on_dead_letter(session, letter.id, args, kwargs, exc)

    def on_dead_letter(
        self,
        session: Any,
        dead_letter_id: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException,
    ) -> None:
        """Domain hook: e.g. mark the delivery dead and set the order's failure status."""


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


def spocc_task(
    name: str,
    *,
    queue: str,
    retry_for: tuple[type[BaseException], ...] = (RetryableError,),
    max_retries: int = 5,
    soft_time_limit: int | None = None,
    time_limit: int | None = None,
    base: type[SpoccTask] = SpoccTask,
    **options: Any,
) -> Callable[[F], Any]:
    """Declare a task: an explicit name, its queue, what it retries on and its limits."""
    s = runtime.settings()
    TASK_QUEUES[name] = queue
    return app.task(
        name=name,
        base=base,
        bind=True,
        autoretry_for=retry_for,
        max_retries=max_retries,
        soft_time_limit=soft_time_limit or s.task_soft_time_limit,
        time_limit=time_limit or s.task_time_limit,
        **options,
    )
