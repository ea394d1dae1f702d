"""How a task is declared: `@spocc_task(name, queue=...)` states its explicit name, its
queue, what it retries on and its limits at the definition; how it then runs (attempts,
deferrals, dead letters) is `SpoccTask` in `task_base.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from celery.result import AsyncResult

from clients.errors import RateLimitTimeout, RetryableError
from workers import runtime
from workers.celery_app import TASK_QUEUES, app
from workers.task_base import Deferred, SpoccTask

P = ParamSpec("P")
R_co = TypeVar("R_co", covariant=True)


class TaskOf(Protocol[P, R_co]):
    """A declared task, typed by the function it wraps (without its bound `self`): mypy
    checks a direct call, `.delay(...)` and `.run(...)` against that signature."""

    name: str
    max_retries: int | None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def run(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult: ...

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult: ...


def spocc_task(
    name: str,
    *,
    queue: str,
    retry_for: tuple[type[BaseException], ...] = (RetryableError,),
    max_retries: int = 5,
    soft_time_limit: int | None = None,
    time_limit: int | None = None,
    base: type[SpoccTask] = SpoccTask,
    periodic: bool = False,
    **options: Any,
) -> Callable[[Callable[Concatenate[Any, P], R_co]], TaskOf[P, R_co]]:
    """Declare a task: an explicit name, its queue, what it retries on and its limits.

    The soft time limit is always retried (the next try may be quicker; the attempt cap
    bounds one that never is). `periodic`: beat sends it at each tick, so a passing fault
    (`passing_fault`) waits for the next one instead of becoming a dead letter."""
    s = runtime.settings()
    TASK_QUEUES[name] = queue
    return app.task(
        name=name,
        base=base,
        bind=True,
        autoretry_for=(*retry_for, SoftTimeLimitExceeded),
        dont_autoretry_for=(Deferred, RateLimitTimeout),
        max_retries=max_retries,
        periodic=periodic,
        soft_time_limit=soft_time_limit or s.task_soft_time_limit,
        time_limit=time_limit or s.task_time_limit,
        **options,
    )
