"""A beat task that meets a dropped database connection is not a dead letter: beat sends it
again at its next tick, so nothing waits for a person (issue 9: no fault we can name needs
one). A real failure of the same task still is."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from store.db import session_scope
from store.models import Attempt, DeadLetter
from tests.support.processes import wait_until
from workers import runtime


def test_a_dropped_connection_under_a_beat_task_waits_for_its_next_tick(
    spocc_env: Any, worker_factory: Any
) -> None:
    from workers.celery_app import app

    worker_factory(queues="default", concurrency=1)
    token = uuid.uuid4().hex
    for _ in range(2):  # two ticks that meet a terminated connection
        app.send_task("spocc.test.periodic_blip", kwargs={"token": token, "blips": 2},
                      queue="default")
    wait_until(lambda: _outcomes(spocc_env.database_url, token).count("failed") == 2, 60,
               "both runs to fail")
    app.send_task("spocc.test.periodic_blip", kwargs={"token": token, "blips": 2},
                  queue="default")  # the next tick
    wait_until(lambda: runtime.redis_client().get(f"test:blip:{token}:done"), 60,
               "the next tick to succeed")
    with session_scope(spocc_env.database_url) as s:
        letters = s.execute(select(DeadLetter).where(
            DeadLetter.subject == f"test:{token}")).scalars().all()
        failed = s.execute(select(Attempt.error).where(
            Attempt.subject == f"test:{token}", Attempt.outcome == "failed")).scalars().all()
    assert letters == []
    assert all("OperationalError" in (e or "") for e in failed), failed


def _outcomes(url: str, token: str) -> list[str]:
    with session_scope(url) as s:
        return list(s.execute(select(Attempt.outcome).where(
            Attempt.subject == f"test:{token}")).scalars())
