"""A worker process's API clients, kept for the connections it served most recently.

A client's HTTP pool is worth keeping between the tasks of one connection, but a worker
that serves 1,000 retailers in turn must not hold 1,000 connections' pools, sockets,
limiters and breakers (about 40 KiB a connection, in every process). So at most
`SPOCC_CLIENT_CACHE_SIZE` entries are kept, the least recently used dropped first, and an
entry built from a configuration that has since changed is replaced rather than kept
beside the new one. The configuration itself is cached once, in `workers.runtime`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from workers import runtime

T = TypeVar("T")


class ClientCache(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[object, T]] = OrderedDict()

    def get(self, key: Hashable, built_from: object, build: Callable[[], T]) -> T:
        """The entry for `key` if it was built from `built_from` (the same object, or an
        equal one), else a new one from `build`."""
        with self._lock:
            found = self._items.get(key)
            if found is not None and (found[0] is built_from or found[0] == built_from):
                self._items.move_to_end(key)
                return found[1]
            value = build()
            # Replaced and evicted clients are dropped, not closed: a task in another thread
            # may still be calling through one, and its sockets close when it is collected.
            self._items[key] = (built_from, value)
            self._items.move_to_end(key)
            while len(self._items) > max(1, runtime.settings().client_cache_size):
                self._items.popitem(last=False)
            return value

    def values(self) -> list[T]:
        with self._lock:
            return [value for _, value in self._items.values()]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
