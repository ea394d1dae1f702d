"""The receiver's task-sent events, published in batches.

Celery publishes a task-sent event right after each task message, in the sender's thread: a
second Redis round trip (and a second redis-py client object) on every accepted webhook,
for monitoring only. The receiver buffers them instead and publishes them twice a second as
one `task.multi` message, which Celery's event receivers (Flower, `spocc exporter`) unpack
like single events. The task message itself is never delayed or batched.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections import deque
from typing import Any

from celery import Celery
from celery.events.dispatcher import EventDispatcher

log = logging.getLogger("spocc.receiver")

INTERVAL = 0.5
# While Redis is away the batches wait, up to this many events; older ones are dropped: they
# are monitoring only, and an outage of hours must not grow the receiver's memory.
MAX_UNSENT = 20_000
_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}


class BatchedSentEvents(EventDispatcher):
    """An event dispatcher for `send_task(event_dispatcher=…)`: `publish` only buffers, in
    the request's thread; a thread of its own sends the buffer, on its own connection."""

    def __init__(self, app: Celery) -> None:
        super().__init__(connection=app.connection_for_write(), app=app, enabled=True,
                         buffer_group=["task"], buffer_limit=sys.maxsize)
        self._unsent: deque[list[Any]] = deque()
        self._failing = False

    def publish(self, type: str, fields: dict[str, Any], producer: Any = None,
                blind: bool = False, **kwargs: Any) -> None:
        # Celery passes its own producer (the task's); the batch goes out on ours.
        self.send(type, **fields)

    def flush(self, errors: bool = True, groups: bool = True) -> None:
        with self.mutex:
            if self._closed:
                return
            events = self._group_buffer["task"]
            batch = events[:]
            del events[:len(batch)]  # appends made meanwhile stay for the next flush
            if batch:
                self._unsent.append(batch)
            while self._unsent:
                try:
                    self.producer.publish(
                        self._unsent[0], routing_key="task.multi", exchange=self.exchange.name,
                        retry=True, retry_policy=_RETRY, declare=[self.exchange],
                        serializer=self.serializer, headers=self.headers,
                        delivery_mode=self.delivery_mode)
                except Exception:
                    if not self._failing:
                        log.warning("task-sent events not published; kept for the next try",
                                    exc_info=True)
                    self._failing = True
                    break
                self._unsent.popleft()
                self._failing = False
            while sum(len(b) for b in self._unsent) > MAX_UNSENT:
                self._unsent.popleft()

    def run_flusher(self) -> None:
        thread = threading.Thread(target=self._flush_forever, name="sent-events", daemon=True)
        thread.start()
        atexit.register(self._flush_quietly)

    def _flush_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(INTERVAL):
            self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:  # the thread must outlive anything a flush meets
            log.warning("task-sent events: flush failed", exc_info=True)


_dispatcher: BatchedSentEvents | None = None
_pid = 0
_lock = threading.Lock()


def dispatcher(app: Celery) -> BatchedSentEvents | None:
    """This process's dispatcher, made (with its flusher thread) on first use: gunicorn's
    workers are forked, and a thread does not survive a fork. None when it cannot be made:
    the task is then sent with Celery's own event, never not at all."""
    global _dispatcher, _pid
    if _dispatcher is None or _pid != os.getpid():
        with _lock:
            if _dispatcher is None or _pid != os.getpid():
                try:
                    made = BatchedSentEvents(app)
                except Exception:
                    log.warning("batched task-sent events unavailable", exc_info=True)
                    return None
                made.run_flusher()
                _dispatcher, _pid = made, os.getpid()
    return _dispatcher
