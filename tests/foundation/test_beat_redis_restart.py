"""Beat rides through a Redis restart: a real `spocc beat` against a Redis of the test's own,
killed and restarted empty, ticks again within 60 s without being restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import SpoccEnv
from tests.support.own_redis import OwnRedis
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime

pytestmark = pytest.mark.slow

TICK = 2.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def beat_env(spocc_env: SpoccEnv, any_db_url: str, own_redis: OwnRedis,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        **spocc_env.env,
        "SPOCC_DATABASE_URL": any_db_url,
        "SPOCC_BROKER_URL": own_redis.url,
        "SPOCC_REDIS_URL": own_redis.url,
        "SPOCC_CATALOGUE_TICK_SECONDS": str(TICK),
    }
    # This process reads the heartbeat from the same database.
    monkeypatch.setenv("SPOCC_DATABASE_URL", any_db_url)
    runtime.reset()
    yield env
    monkeypatch.undo()
    runtime.reset()


def ticked_since(moment: datetime) -> bool:
    from workers.beat_health import last_tick

    seen = last_tick()
    assert seen is None or seen.tzinfo is not None
    return seen is not None and seen > moment


def start_beats(env: dict[str, str], tmp_path: Path, n: int) -> list[SpoccProcess]:
    return [
        SpoccProcess(["beat", "--loglevel", "INFO"], env, tmp_path, f"beat-{i}").start()
        for i in range(n)
    ]


@pytest.mark.sqlite
def test_beat_ticks_again_after_redis_restarts_empty(beat_env, own_redis, tmp_path):
    beat = start_beats(beat_env, tmp_path, 1)[0]
    try:
        started = datetime.now(UTC)
        wait_until(lambda: ticked_since(started), 60, "beat's first heartbeat")
        wait_until(lambda: own_redis.tasks_in("orders", "spocc.orders.sweep") >= 1, 30,
                   "the orders sweeper sent")
        own_redis.kill()
        time.sleep(3 * TICK)  # beat meets a Redis that is not there
        own_redis.start()
        back = datetime.now(UTC)
        wait_until(lambda: ticked_since(back), 60, "a heartbeat after Redis came back empty")
        wait_until(lambda: own_redis.tasks_in("orders", "spocc.orders.sweep") >= 1, 60,
                   "the orders sweeper sent again into the emptied Redis")
        wait_until(lambda: own_redis.tasks_in("default", "spocc.catalogue.tick") >= 1, 60,
                   "the catalogue tick sent again")
        # Still the same process, and still ticking well after the lock's old expiry.
        time.sleep(20)
        assert beat.proc is not None and beat.proc.poll() is None, beat.log()[-3000:]
        assert ticked_since(datetime.now(UTC).replace(microsecond=0) - _seconds(10))
    finally:
        beat.stop()
    assert "LockNotOwnedError" not in beat.log()


@pytest.mark.sqlite
def test_two_beats_across_a_restart_send_each_tick_once(beat_env, own_redis, tmp_path):
    beats = start_beats(beat_env, tmp_path, 2)
    try:
        started = datetime.now(UTC)
        wait_until(lambda: ticked_since(started), 60, "a first heartbeat")
        assert_one_leader(own_redis, window=6 * TICK)
        own_redis.kill()
        time.sleep(2 * TICK)
        own_redis.start()
        back = datetime.now(UTC)
        wait_until(lambda: ticked_since(back), 60, "a heartbeat after the restart")
        assert_one_leader(own_redis, window=8 * TICK)
        for beat in beats:
            assert beat.proc is not None and beat.proc.poll() is None, beat.log()[-3000:]
    finally:
        for beat in beats:
            beat.stop()


def assert_one_leader(server: OwnRedis, window: float) -> None:
    """Within WINDOW the tick is sent once per period, not once per beat."""
    time.sleep(TICK)  # past the catch-up send of a freshly installed schedule
    before = server.tasks_in("default", "spocc.catalogue.tick")
    time.sleep(window)
    sent = server.tasks_in("default", "spocc.catalogue.tick") - before
    periods = window / TICK
    assert periods - 2 <= sent <= periods + 1, f"{sent} ticks sent in {periods:.0f} periods"


def _seconds(n: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=n)
