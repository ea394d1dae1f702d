"""What an operator does with dead letters, the same from `spocc dlq` and from the console.

Letters are found by filters (status, connection, task, age) and grouped by cause: the task
and the type of its last error, as the integration platforms' inboxes group them. Every
action (replay one, replay a group, discard, resolve) is audited with its actor in the
transaction that makes it; discard and resolve need a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from store import audit
from store.models import Attempt, DeadLetter, utcnow
from store.operator_models import HttpExchange, OperatorAudit
from workers import replay

# `--connection -`: letters of tasks that belong to no connection (sweepers, the reaper).
NO_CONNECTION = "-"
STATUSES = ("open", "replayed", "resolved", "discarded")
ACTIONABLE = ("open", "replayed")
GROUP_SCAN_LIMIT = 10_000
ATTEMPTS_SHOWN = 100  # the latest of a letter's attempts


class ActionError(LookupError):
    """The action cannot be taken (no such letter, already closed, no reason given)."""


@dataclass(frozen=True)
class LetterFilter:
    status: str | None = "open"  # None: every status
    connection_id: str | None = None  # NO_CONNECTION: those without one
    task: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ActionError(f"status: one of {', '.join(STATUSES)}, not {self.status!r}")


@dataclass
class Group:
    """The letters that share a cause."""

    key: str  # "<task>:<error type>", what `spocc dlq replay --group` takes
    task: str
    error_type: str
    count: int = 0
    connections: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    sample: str = ""
    ids: list[int] = field(default_factory=list)


@dataclass
class LetterDetail:
    letter: DeadLetter
    attempts: list[Attempt]
    exchange: HttpExchange | None
    audit: list[OperatorAudit]


def error_type(letter: DeadLetter) -> str:
    """`ServerError` from `ServerError: POST /x: 503 ...` (how the task base writes errors)."""
    head = (letter.last_error or "").split("\n", 1)[0]
    name, sep, _ = head.partition(":")
    name = name.strip()
    return name if sep and name.replace(".", "").replace("_", "").isalnum() else "Error"


def cause_key(letter: DeadLetter) -> str:
    return f"{letter.task_name}:{error_type(letter)}"


def letters(session: Session, flt: LetterFilter, limit: int = 100) -> list[DeadLetter]:
    """Letters matching the filter, newest first."""
    q = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if flt.status is not None:
        q = q.where(DeadLetter.status == flt.status)
    if flt.connection_id == NO_CONNECTION:
        q = q.where(DeadLetter.connection_id.is_(None))
    elif flt.connection_id is not None:
        q = q.where(DeadLetter.connection_id == flt.connection_id)
    if flt.task is not None:
        q = q.where(DeadLetter.task_name == flt.task)
    now = utcnow()
    if flt.older_than is not None:
        q = q.where(DeadLetter.created_at <= now - flt.older_than)
    if flt.newer_than is not None:
        q = q.where(DeadLetter.created_at >= now - flt.newer_than)
    return list(session.execute(q).scalars())


def groups(session: Session, flt: LetterFilter) -> list[Group]:
    """Letters matching the filter grouped by cause, the largest group first."""
    found: dict[str, Group] = {}
    for row in letters(session, flt, limit=GROUP_SCAN_LIMIT):
        key = cause_key(row)
        group = found.get(key)
        if group is None:
            group = found[key] = Group(key, row.task_name, error_type(row))
            group.sample = row.last_error.split("\n", 1)[0][:200]
        group.count += 1
        group.ids.append(row.id)
        group.connections.add(row.connection_id or NO_CONNECTION)
        group.first = min(filter(None, (group.first, row.created_at)))
        group.last = max(filter(None, (group.last, row.created_at)))
    return sorted(found.values(), key=lambda g: (-g.count, g.key))


def detail(session: Session, dead_letter_id: int) -> LetterDetail:
    """One letter with its attempts, the last HTTP exchange of its failure, and its audit."""
    letter = _get(session, dead_letter_id)
    task_ids = [t for t in (letter.task_id, letter.replay_task_id) if t]
    # the subject's attempts, whichever message carried them (a sweeper's resend, a replay)
    mine: ColumnElement[bool] = Attempt.task_id.in_(task_ids)
    if letter.subject:
        mine = or_(mine, Attempt.subject == letter.subject)
    attempts = list(
        session.execute(
            select(Attempt).where(mine).order_by(Attempt.id.desc()).limit(ATTEMPTS_SHOWN)
        ).scalars()
    )[::-1]
    attempt_ids = [a.id for a in attempts]
    exchange = session.execute(
        select(HttpExchange)
        .where(
            or_(
                HttpExchange.dead_letter_id == letter.id,
                HttpExchange.attempt_id.in_(attempt_ids) if attempt_ids else false(),
            )
        )
        .order_by(HttpExchange.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return LetterDetail(
        letter, attempts, exchange, audit.recent(session, 50, subject=subject(letter.id))
    )


def subject(dead_letter_id: int) -> str:
    return f"dead_letter:{dead_letter_id}"


def replay_one(
    session: Session, dead_letter_id: int, actor: str, reason: str | None = None
) -> str:
    """Send the letter's task again; returns the new task id. Commits (before sending)."""
    letter = _get(session, dead_letter_id)
    _check_open(letter)
    audit.record(
        session, actor, "dead_letter.replay", subject(letter.id), reason,
        connection_id=letter.connection_id,
    )
    try:
        return replay.replay(session, dead_letter_id)
    except replay.NotReplayable as exc:
        raise ActionError(str(exc)) from None


def replay_group(
    session: Session,
    key: str,
    actor: str,
    flt: LetterFilter | None = None,
    reason: str | None = None,
) -> list[tuple[int, str]]:
    """Replay every actionable letter of one cause (within the filter); (letter, task id)."""
    ids = group_ids(session, key, flt)
    return [(dl_id, replay_one(session, dl_id, actor, reason)) for dl_id in ids]


def discard(session: Session, dead_letter_id: int, actor: str, reason: str) -> DeadLetter:
    """Close the letter without running it again (the work is not wanted any more)."""
    return _close(session, dead_letter_id, actor, reason, "discarded")


def resolve(session: Session, dead_letter_id: int, actor: str, reason: str) -> DeadLetter:
    """Close the letter as dealt with (fixed by hand, or by later work)."""
    return _close(session, dead_letter_id, actor, reason, "resolved")


def _close(
    session: Session, dead_letter_id: int, actor: str, reason: str, status: str
) -> DeadLetter:
    if not (reason or "").strip():
        raise ActionError("reason: required (say why, for whoever reads the audit)")
    letter = _get(session, dead_letter_id)
    _check_open(letter)
    letter.status, letter.resolved_at = status, utcnow()
    letter.resolution = f"{status} by {actor}: {reason.strip()}"[:2000]
    action = "dead_letter.discard" if status == "discarded" else "dead_letter.resolve"
    audit.record(
        session, actor, action, subject(letter.id), reason, connection_id=letter.connection_id
    )
    return letter


def close_group(
    session: Session,
    key: str,
    actor: str,
    reason: str,
    status: str,
    flt: LetterFilter | None = None,
) -> list[DeadLetter]:
    """`discard` or `resolve` every actionable letter of one cause (within the filter)."""
    return close_many(session, group_ids(session, key, flt), actor, reason, status)


def group_ids(session: Session, key: str, flt: LetterFilter | None = None) -> list[int]:
    """The actionable (open or replayed) letters of one cause within the filter, oldest first."""
    flt = flt or LetterFilter(status=None)
    ids = sorted(
        row.id
        for row in letters(session, flt, limit=GROUP_SCAN_LIMIT)
        if row.status in ACTIONABLE and cause_key(row) == key
    )
    if not ids:
        raise ActionError(f"no open dead letter has the cause {key!r}")
    return ids


def close_many(
    session: Session, ids: Sequence[int], actor: str, reason: str, status: str
) -> list[DeadLetter]:
    """`discard` or `resolve` several letters in one transaction (all or none)."""
    if status not in ("discarded", "resolved"):
        raise ActionError(f"status: discarded or resolved, not {status!r}")
    return [_close(session, dl_id, actor, reason, status) for dl_id in ids]


def _get(session: Session, dead_letter_id: int) -> DeadLetter:
    letter = session.get(DeadLetter, dead_letter_id)
    if letter is None:
        raise ActionError(f"dead letter {dead_letter_id} does not exist")
    return letter


def _check_open(letter: DeadLetter) -> None:
    if letter.status not in ACTIONABLE:
        raise ActionError(f"dead letter {letter.id} is {letter.status}")
