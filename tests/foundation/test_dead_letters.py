"""One dead letter per subject: a replay that fails again updates it, later success on the
subject resolves it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from store import dead_letters
from store.db import session_scope
from store.models import DeadLetter
from tests.support.processes import wait_until


def _fail(url: str, subject: str | None, error: str, attempts: int = 2,
          replay_of: int | None = None) -> int:
    with session_scope(url) as s:
        return dead_letters.add(
            s, task_name="spocc.test.x", task_id=str(uuid.uuid4()), queue="default",
            connection_id="c1", args=[], kwargs={"unit_id": 7}, last_error=error,
            attempts=attempts, subject=subject, replay_of=replay_of,
        ).id


def _letters(url: str, subject: str) -> list[DeadLetter]:
    with session_scope(url) as s:
        return list(s.execute(select(DeadLetter).where(DeadLetter.subject == subject)
                              .order_by(DeadLetter.id)).scalars())


def test_later_failures_of_a_subject_update_its_one_letter(any_db_url: str) -> None:
    subject = f"unit:{uuid.uuid4().hex}"
    first = _fail(any_db_url, subject, "boom 1")
    with session_scope(any_db_url) as s:
        s.get_one(DeadLetter, first).status = "replayed"  # as `spocc dlq replay` leaves it
    assert _fail(any_db_url, subject, "boom 2", attempts=3) == first
    [letter] = _letters(any_db_url, subject)
    assert (letter.status, letter.attempts, letter.last_error) == ("open", 5, "boom 2")
    assert letter.last_failed_at is not None and letter.last_failed_at >= letter.created_at


def test_resolve_subject_resolves_its_open_letters_and_a_new_failure_is_a_new_letter(
    any_db_url: str,
) -> None:
    subject = f"delivery:{uuid.uuid4().hex}"
    other = f"delivery:{uuid.uuid4().hex}"
    first = _fail(any_db_url, subject, "boom")
    _fail(any_db_url, other, "boom")
    with session_scope(any_db_url) as s:
        assert dead_letters.resolve_subject(s, subject, "registered by resync") == 1
        assert dead_letters.resolve_subject(s, subject, "again") == 0
    [letter] = _letters(any_db_url, subject)
    assert (letter.status, letter.resolution) == ("resolved", "registered by resync")
    assert letter.resolved_at is not None
    assert [x.status for x in _letters(any_db_url, other)] == ["open"]
    assert _fail(any_db_url, subject, "boom again") != first
    assert [x.status for x in _letters(any_db_url, subject)] == ["resolved", "open"]


def test_a_subjectless_replay_that_fails_again_updates_the_letter_it_replays(
    any_db_url: str,
) -> None:
    first = _fail(any_db_url, None, "boom 1")
    assert _fail(any_db_url, None, "boom 2", replay_of=first) == first
    assert _fail(any_db_url, None, "unrelated") != first


def test_two_first_failures_of_one_subject_at_once_make_one_letter(spocc_env: Any) -> None:
    url = spocc_env.database_url
    subject = f"unit:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda i: _fail(url, subject, f"boom {i}", attempts=1), range(8)))
    assert len(ids) == 1
    [letter] = _letters(url, subject)
    assert letter.attempts == 8


@pytest.mark.slow
def test_a_replay_that_fails_again_stays_one_letter_resolved_by_later_success(
    spocc_env: Any, worker_factory: Any
) -> None:
    from tests.support.tasks import token_flaky
    from workers import replay, runtime

    worker_factory(name="replays", concurrency=1)
    url = spocc_env.database_url
    token = uuid.uuid4().hex
    subject = f"test:{token}"
    token_flaky.apply_async(kwargs={"token": token, "fail_times": 100})
    wait_until(lambda: _letters(url, subject), 60, "the dead letter")
    [letter] = _letters(url, subject)
    assert (letter.status, letter.attempts) == ("open", 3)
    assert "run 3" in letter.last_error

    with session_scope(url) as s:
        replay.replay(s, letter.id)
    wait_until(lambda: _letters(url, subject)[0].attempts == 6, 60, "the replay to fail again")
    [again] = _letters(url, subject)
    assert again.id == letter.id and again.status == "open" and again.replay_count == 1
    assert "run 6" in again.last_error

    # later work on the same subject (a new message, as a sweeper or a new event sends)
    # succeeds: the letter resolves on its own
    token_flaky.apply_async(kwargs={"token": token, "fail_times": 0})
    wait_until(lambda: runtime.redis_client().get(f"test:flaky:{token}:done"), 60,
               "the later work to succeed")
    wait_until(lambda: _letters(url, subject)[0].status == "resolved", 30, "the resolution")
    [done] = _letters(url, subject)
    assert done.resolution is not None and "succeeded" in done.resolution


def test_the_reaper_keeps_the_attempts_of_a_subject_with_an_open_letter(any_db_url: str) -> None:
    from datetime import timedelta

    from store import attempts
    from store.models import Attempt, utcnow

    kept, gone = f"unit:{uuid.uuid4().hex}", f"unit:{uuid.uuid4().hex}"
    _fail(any_db_url, kept, "boom")
    with session_scope(any_db_url) as s:
        for subject in (kept, gone, None):
            attempt_id, _ = attempts.start(s, str(uuid.uuid4()), "spocc.test.x", None,
                                           subject=subject)
            s.get_one(Attempt, attempt_id).started_at = utcnow() - timedelta(days=40)
    with session_scope(any_db_url) as s:
        dead_letters.reap(s, timedelta(days=30), timedelta(days=30))
        left = set(s.execute(select(Attempt.subject).where(
            Attempt.subject.in_((kept, gone)))).scalars())
    assert left == {kept}
