"""Dead letters: what failed for good, how often, and what resolved it (an operator, or later
success on the same subject)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Attempt, DeadLetter, utcnow

# A letter still waiting for someone (or for its replay).
UNRESOLVED = ("open", "replayed")

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
    subject: str | None = None,
    replay_of: int | None = None,
    attempts_are_total: bool = False,
) -> DeadLetter:
    """The work failed for good: its unresolved letter (the one being replayed, or the
    subject's) counts the attempts and takes the new error; only a first failure is a new
    letter. A replay that fails again is open again, not a second, unrelated row.

    `attempts` are this message's; with `attempts_are_total` they are all the subject's
    counted attempts (the attempt cap's count), which the letter may already include."""
    now = utcnow()
    row = _unresolved(session, subject, replay_of)
    if row is None:
        try:
            with session.begin_nested():  # the unique index settles two first failures
                row = DeadLetter(
                    task_name=task_name,
                    task_id=task_id,
                    queue=queue,
                    connection_id=connection_id,
                    subject=subject,
                    args=scrub(list(args)),
                    kwargs=scrub(dict(kwargs)),
                    last_error=last_error[:8000],
                    attempts=attempts,
                    last_failed_at=now,
                )
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            row = _unresolved(session, subject, None)
            if row is None:
                raise
    row.attempts = max(row.attempts, attempts) if attempts_are_total else row.attempts + attempts
    row.last_error = last_error[:8000]
    row.last_failed_at = now
    row.status = "open"
    if subject is not None and row.subject is None:
        row.subject = subject
    session.flush()
    return row


def _unresolved(
    session: Session, subject: str | None, replay_of: int | None
) -> DeadLetter | None:
    if replay_of is not None:
        row = session.get(DeadLetter, replay_of, with_for_update=True)
        if row is not None and row.status in UNRESOLVED:
            return row
    if subject is None:
        return None
    return session.execute(
        select(DeadLetter)
        .where(DeadLetter.subject == subject, DeadLetter.status.in_(UNRESOLVED))
        .with_for_update()
    ).scalar_one_or_none()


def resolve_subject(session: Session, subject: str, note: str) -> int:
    """Later work on the subject succeeded: its open (or replayed) letters are resolved,
    with `note` saying how. Returns how many."""
    result = session.execute(
        update(DeadLetter)
        .where(DeadLetter.subject == subject, DeadLetter.status.in_(UNRESOLVED))
        .values(status="resolved", resolved_at=utcnow(), resolution=note[:2000])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resolve_replayed(session: Session, replay_task_id: str) -> int:
    """A replayed task succeeded: its dead letter is resolved (a letter without a subject
    is found by the replay's task id)."""
    result = session.execute(
        update(DeadLetter)
        .where(DeadLetter.replay_task_id == replay_task_id, DeadLetter.status == "replayed")
        .values(
            status="resolved",
            resolved_at=utcnow(),
            resolution=f"replay {replay_task_id} succeeded",
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
            # nor does its subject's attempts: they are what the attempt cap counts
            or_(Attempt.subject.is_(None), Attempt.subject.not_in(select(DeadLetter.subject).where(
                unresolved, DeadLetter.subject.is_not(None)))),
        )
    ).rowcount  # type: ignore[attr-defined]
    return int(n or 0)
