"""The reaper enforces retention: old attempt rows, resolved dead letters and expired keys go;
open dead letters and recent rows stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from store import dead_letters, idempotency
from store.db import session_scope
from store.models import Attempt, DeadLetter, IdempotencyKey, utcnow


def test_reaper_removes_what_retention_allows_and_keeps_the_rest(spocc_env):
    from tasks.maintenance.reaper import reap

    url = spocc_env.database_url
    old = utcnow() - timedelta(days=31)
    tag = uuid.uuid4().hex
    with session_scope(url) as s:
        s.add_all([
            Attempt(task_id=f"{tag}-old", task_name="t", number=1, outcome="success",
                    started_at=old),
            Attempt(task_id=f"{tag}-new", task_name="t", number=1, outcome="success"),
        ])
        resolved = dead_letters.add(s, task_name="t", task_id=f"{tag}-r", queue="default",
                                    connection_id=None, args=[], kwargs={}, last_error="x",
                                    attempts=1)
        still_open = dead_letters.add(s, task_name="t", task_id=f"{tag}-o", queue="default",
                                      connection_id=None, args=[], kwargs={}, last_error="x",
                                      attempts=1)
        resolved.status, resolved.resolved_at = "resolved", old
        still_open.created_at = old
        idempotency.claim(s, "c", "x", f"{tag}-expired", "h", now=utcnow() - timedelta(hours=97))
        idempotency.claim(s, "c", "x", f"{tag}-live", "h")
    reap()
    with session_scope(url) as s:
        tasks = set(s.execute(select(Attempt.task_id).where(Attempt.task_id.like(f"{tag}%")))
                    .scalars())
        letters = set(s.execute(select(DeadLetter.task_id).where(
            DeadLetter.task_id.like(f"{tag}%"))).scalars())
        keys = set(s.execute(select(IdempotencyKey.key).where(
            IdempotencyKey.key.like(f"{tag}%"))).scalars())
    assert tasks == {f"{tag}-new"}
    assert letters == {f"{tag}-o"}
    assert keys == {f"{tag}-live"}
