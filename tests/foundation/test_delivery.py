"""The delivery rules of ../shared/spec/reliability.md, proven with real worker processes."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from store.db import session_scope
from store.models import Attempt, DeadLetter, IdempotencyKey
from tests.support.processes import ROOT, wait_until

pytestmark = pytest.mark.slow


def _effects(url: str, token: str) -> int:
    with session_scope(url) as s:
        return s.execute(
            select(func.count()).where(
                IdempotencyKey.scope == "effect",
                IdempotencyKey.key == token,
                IdempotencyKey.status == "done",
            )
        ).scalar_one()


def _attempts(url: str, task_id: str) -> list[str]:
    with session_scope(url) as s:
        return list(
            s.execute(
                select(Attempt.outcome).where(Attempt.task_id == task_id).order_by(Attempt.id)
            ).scalars()
        )


def test_late_ack_task_survives_sigkill_of_the_worker_main_process(spocc_env, worker_factory):
    from tests.support.tasks import effect

    token = uuid.uuid4().hex
    first = worker_factory(name="doomed")
    result = effect.apply_async(kwargs={"token": token, "sleep_before": 4.0})
    marker = spocc_env.data_dir / f"started-{token}-0"
    wait_until(marker.exists, 30, "the task to start on the first worker")
    first.kill_main()  # the main process holds the unacked message; its children are orphaned
    first.stop()  # and the orphans die too, as when a machine is lost

    worker_factory(name="survivor")
    url = spocc_env.database_url
    wait_until(
        lambda: "success" in _attempts(url, result.id), 60, "the redelivered task to succeed"
    )
    assert _effects(url, token) == 1
    outcomes = _attempts(url, result.id)
    assert outcomes.count("lost") == 1, outcomes  # the attempt the kill cut short
    assert outcomes.count("success") == 1, outcomes


def test_task_killed_after_its_effect_committed_is_redelivered_without_a_second_effect(
    spocc_env, worker_factory
):
    from tests.support.tasks import effect

    token = uuid.uuid4().hex
    first = worker_factory(name="doomed-after")
    result = effect.apply_async(kwargs={"token": token, "sleep_after": 4.0})
    url = spocc_env.database_url
    wait_until(lambda: _effects(url, token) == 1, 30, "the effect to commit")
    first.kill_main()
    first.stop()
    worker_factory(name="survivor-after")
    wait_until(lambda: "success" in _attempts(url, result.id), 60, "the redelivery to finish")
    assert _effects(url, token) == 1


def _dead_letters(url: str, task_id: str) -> list[DeadLetter]:
    with session_scope(url) as s:
        return list(s.execute(select(DeadLetter).where(DeadLetter.task_id == task_id)).scalars())


def test_task_failing_past_its_retries_lands_in_the_dead_letter_table_and_replays(
    spocc_env, worker_factory
):
    from tests.support.tasks import flaky
    from workers import runtime

    worker_factory(name="dlq")
    token = uuid.uuid4().hex
    result = flaky.apply_async(kwargs={"token": token, "fail_times": 3})  # 1 run + 2 retries
    url = spocc_env.database_url
    wait_until(lambda: _dead_letters(url, result.id), 60, "the dead letter")
    [letter] = _dead_letters(url, result.id)
    assert letter.status == "open"
    assert letter.attempts == 3
    assert letter.task_name == "spocc.test.flaky"
    assert letter.kwargs == {"token": token, "fail_times": 3}
    assert "ServerError" in letter.last_error and "503" in letter.last_error
    assert _attempts(url, result.id) == ["retry", "retry", "failed"]

    out = subprocess.run(
        [sys.executable, "-m", "cli", "dlq", "replay", str(letter.id)],
        cwd=ROOT,
        env=spocc_env.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"dead letter {letter.id} replayed" in out.stdout
    client = runtime.redis_client()
    wait_until(lambda: client.get(f"test:flaky:{token}:done"), 60, "the replay to succeed")
    wait_until(
        lambda: _dead_letters(url, result.id)[0].status == "resolved",
        30,
        "the dead letter to be resolved",
    )


def test_message_whose_worker_keeps_dying_is_dead_lettered_not_looped(spocc_env, worker_factory):
    """The attempt cap lives in the database: unfinished attempts count as lost workers."""
    from store import attempts
    from tests.support.tasks import effect
    from workers import runtime

    token = uuid.uuid4().hex
    task_id = str(uuid.uuid4())
    cap = runtime.settings().attempt_cap
    with session_scope(spocc_env.database_url) as s:
        for _ in range(cap):
            attempts.start(s, task_id, "spocc.test.effect", None)
    worker_factory(name="poison")
    effect.apply_async(kwargs={"token": token}, task_id=task_id)
    url = spocc_env.database_url
    wait_until(lambda: _dead_letters(url, task_id), 60, "the poison message's dead letter")
    assert "worker lost" in _dead_letters(url, task_id)[0].last_error
    assert _effects(url, token) == 0
