"""No endless loops: work is capped per subject across task ids, with its cause named;
a soft time-out is retried; a deferral is no attempt. Real workers, a cap of 3."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from store.db import session_scope
from store.models import Attempt, DeadLetter
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

CAP = "3"


def outcomes(url: str, subject: str) -> list[str]:
    with session_scope(url) as s:
        return list(s.execute(
            select(Attempt.outcome).where(Attempt.subject == subject).order_by(Attempt.id)
        ).scalars())


def letters(url: str, subject: str) -> list[DeadLetter]:
    with session_scope(url) as s:
        return list(s.execute(
            select(DeadLetter).where(DeadLetter.subject == subject).order_by(DeadLetter.id)
        ).scalars())


def resent_until_dead_lettered(task: Any, url: str, token: str, outcome: str) -> DeadLetter:
    """Send the work, then again under a new task id as a sweeper would, until the cap."""
    subject = f"test:{token}"
    task.apply_async(kwargs={"token": token})
    wait_until(lambda: outcome in outcomes(url, subject), 60, f"a first {outcome}")
    task.apply_async(kwargs={"token": token})
    wait_until(lambda: letters(url, subject), 90, "the dead letter at the cap")
    # both messages come back (requeued) until each is refused at the cap
    wait_until(lambda: outcomes(url, subject).count("poison") == 2, 60, "both to be refused")
    [letter] = letters(url, subject)
    return letter


def test_work_killed_at_the_hard_time_limit_is_dead_lettered_at_the_cap_across_task_ids(
    spocc_env: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import overrun
    from workers import runtime

    worker_factory(name="overrun", concurrency=1, SPOCC_ATTEMPT_CAP=CAP)
    token = uuid.uuid4().hex
    url = spocc_env.database_url
    letter = resent_until_dead_lettered(overrun, url, token, "timeout")
    assert "killed at the hard time limit 3 times" in letter.last_error
    assert letter.attempts == 3 and letter.status == "open"
    done = outcomes(url, f"test:{token}")
    assert done.count("timeout") == 3, done
    assert set(done) == {"timeout", "poison"}, done
    assert int(runtime.redis_client().get(f"test:overrun:{token}") or 0) == 3


def test_work_that_kills_its_worker_is_dead_lettered_at_the_cap_across_task_ids(
    spocc_env: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import suicide
    from workers import runtime

    worker_factory(name="suicide", concurrency=1, SPOCC_ATTEMPT_CAP=CAP)
    token = uuid.uuid4().hex
    url = spocc_env.database_url
    letter = resent_until_dead_lettered(suicide, url, token, "lost")
    assert "worker lost 3 times" in letter.last_error
    assert letter.attempts == 3
    done = outcomes(url, f"test:{token}")
    assert done.count("lost") == 3 and set(done) == {"lost", "poison"}, done
    assert int(runtime.redis_client().get(f"test:suicide:{token}") or 0) == 3


def test_soft_time_limit_is_retried_not_a_permanent_failure(
    spocc_env: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import slow_once
    from workers import runtime

    worker_factory(name="soft", concurrency=1)
    token = uuid.uuid4().hex
    slow_once.apply_async(kwargs={"token": token})
    wait_until(lambda: runtime.redis_client().get(f"test:slow:{token}:done"), 60,
               "the retry after the soft time-out to succeed")
    url = spocc_env.database_url
    wait_until(lambda: "success" in outcomes(url, f"test:{token}"), 30, "its attempt row")
    assert outcomes(url, f"test:{token}") == ["soft_timeout", "success"]
    assert letters(url, f"test:{token}") == []


def test_a_deferral_is_no_attempt_and_uses_up_no_retries(
    spocc_env: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import held
    from workers import runtime

    worker_factory(name="held", concurrency=1, SPOCC_ATTEMPT_CAP=CAP)
    token = uuid.uuid4().hex
    # more holds than the cap and than max_retries (0): neither is spent on waiting
    result = held.apply_async(kwargs={"token": token, "holds": 4})
    client = runtime.redis_client()
    wait_until(lambda: client.get(f"test:held:{token}:retries"), 60, "the held task to run")
    assert client.get(f"test:held:{token}:retries") == b"0"
    url = spocc_env.database_url
    wait_until(lambda: "success" in outcomes(url, f"test:{token}"), 30, "its attempt row")
    with session_scope(url) as s:
        rows = s.execute(select(Attempt.task_id, Attempt.outcome, Attempt.error).where(
            Attempt.subject == f"test:{token}").order_by(Attempt.id)).all()
    assert [r.outcome for r in rows] == ["deferred"] * 4 + ["success"]
    assert {r.task_id for r in rows} == {result.id}
    assert rows[0].error == f"waiting for test {token}"
    assert letters(url, f"test:{token}") == []
