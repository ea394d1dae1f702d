"""Scale in connections (issue 10): beat's tick over N connections x 7 processes, the
database rows and Redis keys they leave, and the ticking process's RSS; run by
`bench.fairness` after its other figures, or alone:

    python -m bench.tick_scale [--scale 10,100,1000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import timedelta

from bench.catalogue_runs import store_connection
from bench.harness import bench_env, row


def scale(sizes: list[int]) -> None:
    from sqlalchemy import delete, func, select

    from store.models import Base, SyncRun, utcnow
    from tasks.catalogue import schedule
    from workers import runtime

    print("scale: beat's tick over N connections x 7 processes (no API behind them)")
    made = 0
    growth: dict[int, tuple[float, float, float, float]] = {}
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=1)
    for n in sizes:
        while made < n:
            store_connection("http://127.0.0.1:9", "http://127.0.0.1:9")
            made += 1
        first_minute = start + timedelta(days=n)  # a day of its own: every slot due once
        began = time.perf_counter()
        started = schedule.tick(first_minute)
        first = time.perf_counter() - began
        began = time.perf_counter()
        schedule.tick(first_minute + timedelta(seconds=20))  # same minute: nothing new
        again = time.perf_counter() - began
        began = time.perf_counter()
        # a day on, every slot is due again and each configuration is cached: the tick of a
        # beat that has been running, after an outage (the open runs make these skips)
        schedule.tick(first_minute + timedelta(days=1))
        warm = time.perf_counter() - began
        with runtime.db() as session:
            runs = session.execute(select(func.count()).select_from(SyncRun)).scalar_one()
            rows = sum(session.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in Base.metadata.sorted_tables)
            last_id = session.execute(select(func.max(SyncRun.id))).scalar_one()
        keys = int(runtime.redis_client().dbsize())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # One cold tick at 100 connections lasts a few tenths of a second, so the machine's
        # noise alone moved the per-connection ratio by ±30 % between runs: the ratio takes
        # the median of three cold ticks, each on a day of its own with every configuration
        # forgotten. The repeats find the first tick's runs open and record skips: the same
        # configurations loaded, the same rows inserted, deleted again so the row counts
        # above stay those of one tick.
        colds = [first]
        for day in (2, 3):
            runtime.reset()
            began = time.perf_counter()
            schedule.tick(first_minute + timedelta(days=day))
            colds.append(time.perf_counter() - began)
        with runtime.db() as session:
            session.execute(delete(SyncRun).where(SyncRun.id > last_id))
        cold = statistics.median(colds)
        growth[n] = (cold / n, rows / n, keys / n, rss / n)
        row(f"{n:>5} connections: tick, slots due",
            f"{cold:.2f} s median, {min(colds):.2f} to {max(colds):.2f} s over three "
            f"({len(started)} runs started by the first)",
            "< 5 s" if n >= 1000 else "", max(colds) < 5 if n >= 1000 else None)
        row(f"{n:>5} connections: tick, every slot due again, configurations cached",
            f"{warm:.2f} s", "< 5 s" if n >= 1000 else "", warm < 5 if n >= 1000 else None)
        row(f"{n:>5} connections: tick, nothing due", f"{again:.2f} s")
        row(f"{n:>5} connections: run rows so far", f"{runs:,}")
        row(f"{n:>5} connections: database rows, Redis keys", f"{rows:,}, {keys:,}")
        row(f"{n:>5} connections: the ticking process's peak RSS", f"{rss:,.0f} MiB")
    if 100 in growth and 1000 in growth:
        for i, name in enumerate(("tick time", "database rows", "Redis keys")):
            ratio = growth[1000][i] / growth[100][i] if growth[100][i] else 0.0
            row(f"{name} per connection, 1,000 vs 100", f"{ratio:.2f}x", "≤ 1.25x",
                ratio <= 1.25)
        row("peak RSS per connection, 1,000 vs 100",
            f"{growth[1000][3] / growth[100][3]:.2f}x", "≤ 1.25x (falls: a fixed base)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="10,100,1000")
    args = parser.parse_args()
    with bench_env():
        scale([int(s) for s in args.scale.split(",") if s])


if __name__ == "__main__":
    main()
