"""Attempt rows: one per execution of a task message, and the count that caps poison work.

The cap counts per subject (the work: a delivery, a unit, a planner), not per Celery task
id, because sweepers re-send lost work under new ids. What counts is what the task itself
cannot bound: its worker died, it was killed at the hard time limit, it hit the soft time
limit, or it failed for good. Retries of a retryable error are bounded by the message's own
`max_retries`; a deferral (a hold, a rate budget) is never an attempt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from store.models import Attempt, utcnow

RUNNING = "running"
LOST = "lost"
TIMEOUT = "timeout"
SOFT_TIMEOUT = "soft_timeout"
FAILED = "failed"
SUCCESS = "success"
COUNTED = (LOST, TIMEOUT, SOFT_TIMEOUT, FAILED)

# How an operator reads each counted outcome, in a dead letter's cause.
CAUSES = {
    TIMEOUT: "killed at the hard time limit",
    LOST: "worker lost",
    SOFT_TIMEOUT: "stopped at the soft time limit",
    FAILED: "failed",
}


@dataclass(frozen=True)
class Tally:
    """A subject's counted attempts since it last succeeded (or since its replay began)."""

    by_outcome: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.by_outcome.values())

    def cause(self) -> str:
        """'killed at the hard time limit 8 times' (the most frequent cause first)."""
        parts = [f"{CAUSES[o]} {n} time{'s' if n != 1 else ''}"
                 for o, n in self.by_outcome.most_common() if n]
        return ", ".join(parts) or "no attempts"


def start(
    session: Session,
    task_id: str,
    task_name: str,
    connection_id: str | None,
    delivery_id: int | None = None,
    subject: str | None = None,
) -> tuple[int, int]:
    """Record that a message is being executed; returns (attempt id, its number)."""
    number = (
        session.execute(select(func.count()).where(Attempt.task_id == task_id)).scalar_one() + 1
    )
    row = Attempt(
        task_id=task_id,
        task_name=task_name,
        connection_id=connection_id,
        delivery_id=delivery_id,
        subject=subject,
        number=number,
    )
    session.add(row)
    session.flush()
    return row.id, number


def finish(
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


def ended_by_worker(session: Session, task_id: str, outcome: str, error: str) -> int:
    """The worker's main process saw the execution of `task_id` end without the task:
    killed at the hard time limit, or its process lost. Marks that attempt (it was left
    running, or already counted as lost by the next execution)."""
    latest = session.execute(
        select(func.max(Attempt.id)).where(
            Attempt.task_id == task_id, Attempt.outcome.in_((RUNNING, LOST))
        )
    ).scalar_one_or_none()
    if latest is None:
        return 0
    session.execute(
        update(Attempt).where(Attempt.id == latest).values(outcome=outcome, error=error[:4000])
    )
    return 1


def tally(
    session: Session,
    *,
    task_id: str,
    subject: str | None,
    dead_before: datetime,
    own_message_only: bool = False,
) -> Tally:
    """Count the work's earlier attempts, first marking as lost those whose process is
    certainly gone: left running by this same message (it is being redelivered), or
    started before `dead_before` (longer ago than any execution may live).

    Without a subject the message's own task id is the work. `own_message_only` (a
    replay: the operator asked for another try) counts only this message's attempts.
    """
    scope: ColumnElement[bool]
    if subject is None or own_message_only:
        scope = Attempt.task_id == task_id
    else:
        scope = Attempt.subject == subject
    session.execute(
        update(Attempt)
        .where(
            scope,
            Attempt.outcome == RUNNING,
            or_(Attempt.task_id == task_id, Attempt.started_at < dead_before),
        )
        .values(outcome=LOST, error="the execution ended without a word (its worker died)")
    )
    since = session.execute(
        select(func.max(Attempt.id)).where(scope, Attempt.outcome == SUCCESS)
    ).scalar_one_or_none()
    query = select(Attempt.outcome, func.count()).where(scope, Attempt.outcome.in_(COUNTED))
    if since is not None:
        query = query.where(Attempt.id > since)
    rows = session.execute(query.group_by(Attempt.outcome)).all()
    return Tally(Counter({str(outcome): int(n) for outcome, n in rows}))
