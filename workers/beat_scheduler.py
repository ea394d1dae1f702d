"""RedBeat, kept alive through a Redis restart, with a heartbeat in SQL.

Upstream RedBeat takes its lock once, at start-up, and lets `LockNotOwnedError` end the
process when the lock is gone (sibson/redbeat#218, #230); a Redis that comes back empty
takes the lock, the schedule and beat with it. Here the lock is checked at the start of
every tick instead:
- held: extend it, send what is due, write the heartbeat;
- lost (Redis restarted empty, or we were paused past its time to live): take it again
  without waiting; if another beat has it, stand by and try again next tick;
- Redis unreachable: log it once and try again next tick, never exit.
Whoever takes the lock re-installs the static schedule (a no-op when Redis kept it), so an
emptied Redis gets its entries back, due at once. A beat sends only after extending its own
lock in the same tick, so two beats never lead at once; sync slots are claimed in SQL too.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from celery.signals import beat_init
from redbeat.schedulers import (
    LUA_EXTEND_TO_SCRIPT,
    RedBeatScheduler,
    acquire_distributed_beat_lock,
    get_redis,
)
from sqlalchemy.exc import SQLAlchemyError

from workers import beat_health

logger = logging.getLogger("celery.beat")

# RedBeat's start-up handler blocks until the lock is free and cannot survive Redis going
# away while it waits; the scheduler below takes the lock in its tick instead.
beat_init.disconnect(acquire_distributed_beat_lock)


class SpoccScheduler(RedBeatScheduler):
    """`beat_scheduler` of workers.celery_app."""

    lock: Any = None
    _redis_down = False
    _last_beat_write = 0.0

    def tick(self, min: Any = min, **kwargs: Any) -> float:
        try:
            if not self._lead():
                return float(self.max_interval)
            interval = float(super().tick(min=min, **kwargs))
        except redis.RedisError as exc:
            # Lost the lock between our check and RedBeat's extend, or Redis went away
            # mid-tick: step down; the next tick decides again.
            self._drop_lock(f"{type(exc).__name__}: {exc}")
            return float(self.max_interval)
        self._redis_down = False
        self._heartbeat()
        return interval

    def _lead(self) -> bool:
        """True if this beat holds the lock now (extended, or taken just now)."""
        if self.lock is not None:
            try:
                self.lock.extend(int(self.lock_timeout))
                return True
            except redis.exceptions.LockNotOwnedError:
                logger.warning("beat: lost the lock %s (Redis restarted?); taking it again",
                               self.lock_key)
                self.lock = None
        lock = self._new_lock()
        if not lock.acquire(blocking=False):
            return False
        self.lock = lock
        logger.info("beat: Acquired lock %s", self.lock_key)
        # An emptied Redis lost the schedule with the lock: put the static entries back.
        self.setup_schedule()
        return True

    def update_from_dict(self, dict_: dict[str, Any]) -> None:
        """Entries Redis did not have (a first start, or Redis came back empty) are due at
        once: the sweepers then find from SQL what the lost queues held, without waiting a
        whole interval."""
        client = get_redis(self.app)
        keys = {name: self.Entry.generate_key(self.app, name) for name in dict_}
        lost = [key for key in keys.values() if not client.exists(key)]
        super().update_from_dict(dict_)
        for key in lost:
            with client.pipeline() as pipe:
                pipe.hset(key, "meta", json.dumps({"last_run_at": None}))
                pipe.zadd(self.app.redbeat_conf.schedule_key, {key: 0})
                pipe.execute()

    def _new_lock(self) -> Any:
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=1)
        # RedBeat's script sets the time to live instead of adding to it.
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        return lock

    def _drop_lock(self, why: str) -> None:
        if not self._redis_down:
            logger.warning("beat: cannot schedule (%s); retrying every %ss", why,
                           self.max_interval)
        self._redis_down = True
        self.lock = None

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat_write < 1.0:
            return
        try:
            beat_health.record_tick()
            self._last_beat_write = now
        except SQLAlchemyError as exc:
            logger.warning("beat: heartbeat not written: %s", exc)

    def close(self) -> None:
        try:
            super().close()
        except redis.RedisError as exc:
            # Stopping while Redis is away: the lock expires on its own.
            logger.info("beat: lock not released (%s)", exc)
            self.lock = None
