"""Operator actions on dead letters: replay sends the same task again, discard closes it."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy.orm import Session

from store.models import DeadLetter, utcnow
from workers.celery_app import app
from workers.task_base import REPLAY_HEADER


class NotReplayable(LookupError):
    pass


def replay(session: Session, dead_letter_id: int) -> str:
    """Send the dead letter's task again with a new task id; returns that id.

    Tasks take row ids and re-read state, so a replay acts on the current state, and the
    idempotency keys they carry make a replay of work that did land a no-op.
    """
    row = session.get(DeadLetter, dead_letter_id, with_for_update=True)
    if row is None:
        raise NotReplayable(f"dead letter {dead_letter_id} does not exist")
    if row.status not in ("open", "replayed"):
        raise NotReplayable(f"dead letter {dead_letter_id} is {row.status}")
    task_id = str(uuid4())
    row.status, row.replay_task_id = "replayed", task_id
    row.replay_count += 1
    session.commit()  # the row says "replayed" before the task can finish and resolve it
    app.send_task(
        row.task_name,
        args=row.args,
        kwargs=row.kwargs,
        queue=row.queue,
        task_id=task_id,
        headers={REPLAY_HEADER: str(dead_letter_id)},
    )
    return task_id


def discard(session: Session, dead_letter_id: int) -> None:
    row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise NotReplayable(f"dead letter {dead_letter_id} does not exist")
    row.status, row.resolved_at = "discarded", utcnow()
