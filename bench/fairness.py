"""Issue 10's figures: urgency between processes and scale in connections.

    python -m bench.fairness [--variations 16000] [--scale 10,100,1000] [--skip-images]

- **images running (limits off):** an image run of the demo catalogue (16,000 variations) is
  in progress; a stock delta of 5 % (800 variations) is triggered 30 s in. Target: the delta
  finishes within 30 s. Before (issue 10, today's code then): 660 s after its trigger it had
  not started, 44 image messages still ahead of it.
- **scale:** N connections (7 processes each, all enabled, no API behind them); beat's
  tick over all of them, timed on the first minute (every slot due) and on a later one
  (nothing due). Target: under 5 s at 1,000, and the time per connection at 1,000 within
  1.25 x the time per connection at 100.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import timedelta
from typing import Any

import requests

from bench.harness import BenchEnv, bench_env, row, worker


def _store(plenty_url: str, spocc_url: str, processes: dict[str, Any] | None = None) -> str:
    from store import config_store
    from tests.conftest import connection_document
    from workers import runtime

    conn_id = f"fair-{uuid.uuid4().hex[:8]}"
    changes = {"processes": processes} if processes is not None else {}
    doc = connection_document(conn_id, plenty_url, spocc_url, **changes)
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def _off() -> dict[str, Any]:
    from schemas.config import PROCESSES

    return {name: {"enabled": False} for name in PROCESSES}


def _start(conn_id: str, process: str) -> int:
    from tasks.catalogue import control
    from tasks.catalogue.tasks import start
    from workers import runtime

    with runtime.db() as session:
        run_id = control.start_run(session, conn_id, process, trigger="bench").id
    start(conn_id, run_id)
    return run_id


def _run(run_id: int) -> Any:
    from store.models import SyncRun
    from workers import runtime

    with runtime.db() as session:
        return session.get_one(SyncRun, run_id)


def images_then_delta(env: BenchEnv, n: int) -> None:
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc
    from tasks.catalogue import waits
    from tasks.catalogue.registry import CATALOGUE_QUEUE, tier
    from workers import queues, runtime

    print(f"images running, then a stock delta ({n:,} variations, limits off, one "
          "catalogue worker -c 2)")
    spocc = start_spocc(variations=n)
    plenty = start_background(variations=n, plan="off")
    try:
        conn_id = _store(plenty.url, spocc.url, _off())
        with worker(env, "catalogue,default", 2, "catalogue"):
            images = _start(conn_id, "images")
            time.sleep(30)
            changed = requests.post(f"{spocc.url}/__admin/catalogue/mutate",
                                    json={"percent": 5, "kind": "stock"},
                                    timeout=30).json()["count"]
            client = runtime.redis_client()
            queued_images = queues.depth(client, CATALOGUE_QUEUE) - queues.depth(
                client, CATALOGUE_QUEUE, tier("stock_delta"))
            triggered = time.perf_counter()
            delta = _start(conn_id, "stock_delta")
            with runtime.db() as session:
                why = waits.why(session, _run(delta))
            while _run(delta).status == "running" and time.perf_counter() - triggered < 900:
                time.sleep(0.2)
            took = time.perf_counter() - triggered
            done = _run(delta)
            still = _run(images)
            row("variations the delta changed", f"{changed:,}")
            row("image messages queued at its trigger", f"{queued_images:,}")
            row("ahead of the delta at its trigger", why or "nothing")
            row("delta: trigger → finished", f"{took:.1f} s, {done.status}",
                "≤ 30 s (before: not started after 660 s)",
                took <= 30 and done.status == "succeeded")
            row("image run meanwhile", f"{still.status}, "
                f"{still.pushed + still.unchanged + still.skipped}/{still.found} done")
    finally:
        spocc.stop()
        plenty.shutdown()


def scale(sizes: list[int]) -> None:
    from sqlalchemy import func, select

    from store.models import SyncRun, utcnow
    from tasks.catalogue import schedule

    print("scale: beat's tick over N connections x 7 processes (no API behind them)")
    made = 0
    per: dict[int, float] = {}
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=1)
    for n in sizes:
        while made < n:
            _store("http://127.0.0.1:9", "http://127.0.0.1:9")
            made += 1
        first_minute = start + timedelta(days=n)  # a day of its own: every slot due once
        began = time.perf_counter()
        started = schedule.tick(first_minute)
        first = time.perf_counter() - began
        began = time.perf_counter()
        schedule.tick(first_minute + timedelta(seconds=20))  # same minute: nothing new
        again = time.perf_counter() - began
        from workers import runtime

        with runtime.db() as session:
            runs = session.execute(select(func.count()).select_from(SyncRun)).scalar_one()
        per[n] = first / n
        row(f"{n:>5} connections: tick, slots due", f"{first:.2f} s ({len(started)} runs)",
            "< 5 s" if n >= 1000 else "", first < 5 if n >= 1000 else None)
        row(f"{n:>5} connections: tick, nothing due", f"{again:.2f} s")
        row(f"{n:>5} connections: run rows so far", f"{runs:,}")
    if 100 in per and 1000 in per:
        ratio = per[1000] / per[100]
        row("tick time per connection, 1,000 vs 100", f"{ratio:.2f}x", "≤ 1.25x",
            ratio <= 1.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variations", type=int, default=16_000)
    parser.add_argument("--scale", default="10,100,1000")
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    with bench_env() as env:
        if not args.skip_images:
            images_then_delta(env, args.variations)
    with bench_env():
        scale([int(s) for s in args.scale.split(",") if s])


if __name__ == "__main__":
    main()
