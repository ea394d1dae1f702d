"""Dead letters and attempt rows: what failed, how often, and what an operator did about it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.models import Attempt, DeadLetter, utcnow

# Tasks take row ids, never credentials; this is the second line of defence.
_SECRET_HINTS = (
    "password",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "access_token",
    "refresh_token",
    "bearer",
)


def scrub(value: Any) -> Any:
    """Task arguments as stored: values under secret-looking keys are masked."""
    if isinstance(value, dict):
        return {
            k: "********" if any(h in str(k).lower() for h in _SECRET_HINTS) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def start_attempt(
    session: Session,
    task_id: str,
    task_name: str,
    connection_id: str | None,
    delivery_id: int | None = None,
) -> tuple[int, int]:
    """Record that a message is being executed; returns (attempt id, how many so far)."""
    number = (
        session.execute(select(func.count()).where(Attempt.task_id == task_id)).scalar_one() + 1
    )
    row = Attempt(
        task_id=task_id,
        task_name=task_name,
        connection_id=connection_id,
        delivery_id=delivery_id,
        number=number,
    )
    session.add(row)
    session.flush()
    return row.id, number


def finish_attempt(
    session: Session, attempt_id: int, outcome: str, started: datetime, error: str | None = None
) -> None:
    session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id)
        .values(
            outcome=outcome,
            error=error[:4000] if error else None,
            duration_ms=(utcnow() - started).total_seconds() * 1000,
        )
    )


def add(
    session: Session,
    *,
    task_name: str,
    task_id: str,
    queue: str,
    connection_id: str | None,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    last_error: str,
    attempts: int,
) -> DeadLetter:
    row = DeadLetter(
        task_name=task_name,
        task_id=task_id,
        queue=queue,
        connection_id=connection_id,
        args=scrub(list(args)),
        kwargs=scrub(dict(kwargs)),
        last_error=last_error[:8000],
        attempts=attempts,
    )
    session.add(row)
    session.flush()
    return row


def resolve_replayed(session: Session, replay_task_id: str) -> None:
    """A replayed task succeeded: its dead letter is resolved."""
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.replay_task_id == replay_task_id, DeadLetter.status == "replayed")
        .values(status="resolved", resolved_at=utcnow())
    )


def listing(session: Session, status: str | None = "open", limit: int = 100) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status:
        q = q.where(DeadLetter.status == status)
    return list(session.execute(q).scalars())


def reap(session: Session, resolved_older_than: timedelta, attempts_older_than: timedelta) -> int:
    now = utcnow()
    n = session.execute(
        delete(DeadLetter).where(
            DeadLetter.status.in_(("resolved", "discarded")),
            DeadLetter.resolved_at < now - resolved_older_than,
        )
    ).rowcount  # type: ignore[attr-defined]
    unresolved = DeadLetter.status.in_(("open", "replayed"))
    n += session.execute(
        delete(Attempt).where(
            Attempt.started_at < now - attempts_older_than,
            # a letter an operator has still to decide on keeps its attempts (and their HTTP
            # exchanges, which go with them)
            Attempt.task_id.not_in(select(DeadLetter.task_id).where(unresolved)),
            Attempt.task_id.not_in(select(DeadLetter.replay_task_id).where(
                unresolved, DeadLetter.replay_task_id.is_not(None))),
        )
    ).rowcount  # type: ignore[attr-defined]
    return int(n or 0)
