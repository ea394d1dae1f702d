"""What every benchmark shares: private databases, a real worker, figures printed alike.

Benchmarks run by hand (`make bench` or `python -m bench.<name>`), never in the test suite.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.infra import (
    private_postgres,
    private_rabbitmq_vhost,
    private_redis_db,
    redis_url,
)
from tests.support.processes import ROOT, SpoccProcess, wait_until


@dataclass
class BenchEnv:
    database_url: str
    redis_url: str
    data_dir: Path
    env: dict[str, str]


@contextmanager
def bench_env(broker: str = "redis", **extra: str) -> Iterator[BenchEnv]:
    """Private PostgreSQL database and Redis db; the connector's settings point at them. With
    `broker="rabbitmq"`, a private RabbitMQ virtual host is the broker (Redis stays for the
    rest)."""
    from store.migrate import upgrade
    from store.secrets import new_key

    with tempfile.TemporaryDirectory() as tmp, private_postgres() as db_url, \
            private_redis_db() as db, _broker_url(broker, redis_url(db)) as b_url:
        r_url = redis_url(db)
        os.environ.update({
            "SPOCC_DATABASE_URL": db_url, "SPOCC_BROKER_URL": b_url, "SPOCC_REDIS_URL": r_url,
            "SPOCC_DATA_DIR": tmp, "SPOCC_SECRET_KEY": new_key(), **extra,
        })
        from workers import celery_app, runtime

        runtime.reset()
        celery_app.reconfigure()
        upgrade(db_url)
        yield BenchEnv(db_url, r_url, Path(tmp), dict(os.environ))


@contextmanager
def _broker_url(broker: str, redis: str) -> Iterator[str]:
    if broker == "redis":
        yield redis
    elif broker == "rabbitmq":
        with private_rabbitmq_vhost() as url:
            yield url
    else:
        raise SystemExit(f"--broker {broker}: redis or rabbitmq")


BROKERS = ("redis", "rabbitmq")


@contextmanager
def worker(env: BenchEnv, queues: str, concurrency: int = 2, name: str = "bench") -> Iterator[
        SpoccProcess]:
    proc = SpoccProcess(
        ["worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel",
         "WARNING"], env.env, env.data_dir, name,
    ).start()
    try:
        wait_until(lambda: _pinged(name), 60, f"worker {name} to answer a ping")
        yield proc
    finally:
        proc.stop()


def _pinged(name: str) -> bool:
    from workers.celery_app import app

    replies = app.control.ping(timeout=0.5) or []
    return any(k.startswith(f"{name}@") for r in replies for k in r)


def queue_drained(queue: str) -> bool:
    """Nothing waiting in `queue` and nothing delivered but unacknowledged (on Redis)."""
    from workers import broker, runtime

    if broker.amqp():
        return broker.depth(queue) == 0
    return broker.depth(queue) == 0 and int(runtime.redis_client().hlen("unacked")) == 0


def noop_tasks_per_second(env: BenchEnv, n: int = 3000) -> float:
    """The baseline: no-op tasks through a prefork worker (concurrency 2), late ack,
    prefetch 1, on the same broker; from the first send to the last ack."""
    from tasks.maintenance.bench import noop

    with worker(env, "default", 2, "baseline"):
        for _ in range(50):  # warm the pool
            noop.apply_async(queue="default")
        wait_until(lambda: queue_drained("default"), 60, "warm-up")
        start = time.perf_counter()
        for _ in range(n):
            noop.apply_async(queue="default")
        wait_until(lambda: queue_drained("default"), 600, "the baseline tasks")
        return n / (time.perf_counter() - start)


def percentile(samples: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile (0 for no samples): one definition for every bench,
    so a p95 here and a p95 there are the same figure."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(median, p99)."""
    return statistics.median(samples), percentile(samples, 99)


def row(name: str, value: str, target: str = "", verdict: bool | None = None) -> None:
    mark = "" if verdict is None else ("  ok" if verdict else "  MISSED")
    print(f"  {name:<46} {value:>22}   {target}{mark}", flush=True)


def run_module(module: str, *args: str) -> int:
    return subprocess.call([sys.executable, "-m", module, *args], cwd=ROOT)
