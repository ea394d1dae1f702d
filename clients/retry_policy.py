"""How long one API call may take and how often it is tried: connect and read timeouts, the
attempts, their backoff and the deadline every wait is cut to (`clients/http.py` applies it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `connect` slightly above a multiple of 3 (the TCP retransmission step)."""

    connect: float = 3.05
    read: float = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries of one call in all, the first included
    connect_retries: int = 2  # urllib3-level, on top: the request was never sent
    backoff: float = 0.5  # seconds, doubled per attempt, with jitter
    backoff_max: float = 20.0
    # A Retry-After longer than this is not slept in a worker: RateLimited goes to the
    # caller, whose task retries later (a worker slot is not a place to wait for minutes).
    max_retry_after: float = 120.0
    # Seconds one logical call may take in all: every rate-limit wait, timeout and backoff
    # of every attempt is cut to what is left of it, so a call never outlives its task.
    deadline: float = 120.0

    def backoff_for(self, attempt: int) -> float:
        base = min(self.backoff_max, self.backoff * (2**attempt))
        return base * random.uniform(0.5, 1.0)

    @classmethod
    def within(cls, seconds: float, timeouts: Timeouts, **options: Any) -> RetryPolicy:
        """A policy whose worst case (`worst_case`) is at most `seconds`."""
        probe = cls(deadline=0.0, **options)
        return cls(deadline=max(0.0, seconds - probe.worst_case(timeouts)), **options)

    def worst_case(self, timeouts: Timeouts) -> float:
        """The longest one call can take: the deadline, plus what may already be under way
        when it passes (a connect and urllib3's connect retries with their backoff; the read
        and every other wait are cut to the deadline)."""
        connects = (1 + self.connect_retries) * timeouts.connect
        backoff = sum(self.backoff * 2**n for n in range(self.connect_retries))
        return self.deadline + connects + backoff
