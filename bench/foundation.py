"""Issue 3's figures: the no-op baseline every other benchmark is a ratio of, and the
idempotency claim time on PostgreSQL (target: median ≤ 1.5 ms)."""

from __future__ import annotations

import argparse
import time
import uuid

from bench.harness import bench_env, noop_tasks_per_second, percentiles, row
from store import idempotency
from store.db import session_scope


def claim_times_ms(url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        key = uuid.uuid4().hex
        start = time.perf_counter()
        with session_scope(url) as session:
            idempotency.claim(session, "bench", "webhook", key, "h" * 64)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--claims", type=int, default=3000)
    args = parser.parse_args()
    with bench_env() as env:
        print("foundation (issue 3)")
        rate = noop_tasks_per_second(env, args.tasks)
        row("baseline: no-op tasks/s (prefork c=2)", f"{rate:,.0f}/s")
        claim_times_ms(env.database_url, 200)  # warm the pool
        med, p99 = percentiles(claim_times_ms(env.database_url, args.claims))
        row("idempotency claim on PostgreSQL, median", f"{med:.3f} ms", "≤ 1.5 ms", med <= 1.5)
        row("idempotency claim on PostgreSQL, p99", f"{p99:.3f} ms")


if __name__ == "__main__":
    main()
