"""A dropped database connection under a task's own bookkeeping (the attempt row that opens
an execution, the one that closes it) is not the work's failure: the task still runs once,
and no dead letter calls a person. CI found the opening one dead-lettering a poison task
with the terminated connection's error instead of its real cause (issue 9)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from store.db import session_scope
from store.models import Attempt, DeadLetter
from tests.support.processes import wait_until
from workers import runtime


def _outcomes(url: str, token: str) -> list[str]:
    with session_scope(url) as s:
        return list(s.execute(select(Attempt.outcome).where(
            Attempt.subject == f"test:{token}").order_by(Attempt.id)).scalars())


def _letters(url: str, token: str) -> list[str | None]:
    with session_scope(url) as s:
        return list(s.execute(select(DeadLetter.last_error).where(
            DeadLetter.subject == f"test:{token}")).scalars())


@pytest.mark.parametrize(("at", "cuts"), [
    ("open", 2),   # a blip: the next connection serves
    ("open", 12),  # the database away for longer than a few tries: the message comes back
    ("close", 2),
])
def test_a_connection_dropped_under_the_bookkeeping_costs_neither_the_run_nor_a_letter(
    spocc_env: Any, worker_factory: Any, at: str, cuts: int
) -> None:
    from workers.celery_app import app

    worker_factory(queues="default", concurrency=1)
    token = uuid.uuid4().hex
    client = runtime.redis_client()
    client.set(f"test:cut:{token}", cuts)
    app.send_task("spocc.test.cut", kwargs={"token": token, "at": at}, queue="default")
    url = spocc_env.database_url
    wait_until(lambda: "success" in _outcomes(url, token) or _letters(url, token), 90,
               "the task to succeed (or be dead-lettered)")
    assert _letters(url, token) == []
    assert int(client.get(f"test:cut:{token}") or 0) < 0, "every cut was made"
    assert int(client.get(f"test:cut:{token}:runs") or 0) == 1
    assert _outcomes(url, token)[-1] == "success"
