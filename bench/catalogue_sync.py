"""Issue 5's figures: a full stock + price sync of 50,000 variations against the sandboxes
(rate limits off), beside the no-op baseline measured in the same run.

    python -m bench.catalogue_sync [--variations 50000] [--planner-variations 1000000]

Figures and targets:
- variations/s of the full run ≥ 0.5 x no-op tasks/s (prefork c=2, same broker);
- PlentyONE write calls ≤ 1.1 x the bulk minimum (⌈records / 50⌉ per bulk route);
- an immediate re-run: 0 writes, ≤ 20 % of the first run's time;
- a 1 % delta: write calls ≤ 1.1 x the minimum for its records;
- worker RSS growth < 50 MB over the run; planner RSS < 150 MB paging 1,000,000 variations.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import psutil
import requests

from bench.harness import BenchEnv, bench_env, noop_tasks_per_second, row, worker
from tests.support.processes import ROOT, wait_until

BULK = 50


def _store_connection(plenty_url: str, spocc_url: str) -> str:
    from schemas.config import PROCESSES
    from store import config_store
    from tests.conftest import connection_document
    from workers import runtime

    conn_id = f"bench-{uuid.uuid4().hex[:6]}"
    off = {name: {"enabled": False} for name in PROCESSES}
    doc = connection_document(conn_id, plenty_url, spocc_url, processes=off)
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def _run(conn_id: str, process: str, timeout: float = 3600) -> tuple[Any, float]:
    from store.models import SyncRun
    from tasks.catalogue import control
    from tasks.catalogue.tasks import start
    from workers import runtime

    started = time.perf_counter()
    with runtime.db() as session:
        run_id = control.start_run(session, conn_id, process, trigger="bench").id
    start(conn_id, run_id)

    def row_() -> SyncRun:
        with runtime.db() as session:
            return session.get_one(SyncRun, run_id)

    wait_until(lambda: row_().status != "running", timeout, f"{process} run {run_id}")
    run = row_()
    # the run closes when its last unit is counted: that is the end of the work
    return run, time.perf_counter() - started


def _write_calls(plenty: Any) -> int:
    stats = plenty.app.extensions["sandbox_admin"].stats.to_json()
    return sum(
        r["count"]
        for r in stats["routes"]
        if r["method"] not in ("GET", "HEAD") and not r["route"].startswith("/rest/login")
    )


def _bulk_minimum(plenty: Any, since_seq: int) -> int:
    """⌈records / 50⌉ per bulk route, from what the ledger says was written."""
    per_route: Counter[str] = Counter()
    for entry in plenty.app.extensions["sandbox_admin"].ledger.entries(
        ["stock.corrected", "price.set"], since_seq=since_seq
    ):
        data = entry.data
        if entry.kind == "stock.corrected":
            per_route[f"stock:{data['warehouseId']}"] += 1
        else:
            per_route["price:new" if data.get("previous") is None else "price:set"] += 1
    return sum(math.ceil(n / BULK) for n in per_route.values())


def _ledger_seq(plenty: Any) -> int:
    entries = plenty.app.extensions["sandbox_admin"].ledger.entries()
    return entries[-1].seq if entries else 0


def _clear_stats(plenty: Any) -> None:
    plenty.app.extensions["sandbox_admin"].stats.clear()


def _rss_mb(proc: Any) -> float:
    try:
        main = psutil.Process(proc.pid)
        members = [main, *main.children(recursive=True)]
        return sum(p.memory_info().rss for p in members) / 2**20
    except psutil.Error:
        return float("nan")


PLANNER_CHILD = """
import json, sys, time
from tasks.catalogue.planner import plan_slice
from workers import runtime

def peak_mb():
    # VmHWM: this process's peak RSS since exec (ru_maxrss would carry the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

conn_id, run_id = sys.argv[1], int(sys.argv[2])
runtime.redis_client()
before = peak_mb()
sent = 0
def send(_c, _r, _u):
    global sent
    sent += 1
started = time.perf_counter()
while not plan_slice(conn_id, run_id, send, backlog=lambda: 0):
    pass
print(json.dumps({"units": sent, "seconds": time.perf_counter() - started,
                  "rss_before_mb": before,
                  "peak_rss_mb": peak_mb()}))
"""


def planner_figures(env: BenchEnv, variations: int) -> dict[str, Any]:
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc
    from tasks.catalogue import control
    from workers import runtime

    spocc = start_spocc(variations=variations)
    plenty = start_background(variations=0, plan="off")
    try:
        conn_id = _store_connection(plenty.url, spocc.url)
        with runtime.db() as session:
            run_id = control.start_run(session, conn_id, "stock_delta", trigger="bench").id
        # a process like a worker's (the planner's imports only), units recorded, not sent
        answer = subprocess.run(
            [sys.executable, "-c", PLANNER_CHILD, conn_id, str(run_id)],
            env=env.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=True,
        )
        return dict(json.loads(answer.stdout.strip().splitlines()[-1]))
    finally:
        spocc.stop()
        plenty.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variations", type=int, default=50_000)
    parser.add_argument("--planner-variations", type=int, default=1_000_000)
    parser.add_argument("--baseline-tasks", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    n = args.variations
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    with bench_env() as env:
        print(f"catalogue sync (issue 5), {n:,} variations")
        baseline = noop_tasks_per_second(env, args.baseline_tasks)
        row("baseline: no-op tasks/s (prefork c=2)", f"{baseline:,.0f}/s")

        seed_started = time.perf_counter()
        spocc = start_spocc(variations=n)
        plenty = start_background(variations=n, plan="off")
        row("sandboxes seeded", f"{time.perf_counter() - seed_started:.1f} s")
        try:
            conn_id = _store_connection(plenty.url, spocc.url)
            with worker(env, "catalogue,default", args.concurrency, "catalogue") as proc:
                rss_before = _rss_mb(proc)
                seq = _ledger_seq(plenty)
                _clear_stats(plenty)
                first, first_s = _run(conn_id, "stock_full")
                rate = n / first_s
                calls = _write_calls(plenty)
                minimum = _bulk_minimum(plenty, seq)
                rss_after = _rss_mb(proc)
                row("full run", f"{first_s:.1f} s, {first.status}")
                row("  counts", f"pushed {first.pushed}, unchanged {first.unchanged}")
                row(
                    "  variations/s",
                    f"{rate:,.0f}/s",
                    f"≥ {0.5 * baseline:,.0f}/s",
                    rate >= 0.5 * baseline,
                )
                row(
                    "  write calls vs bulk minimum",
                    f"{calls} / {minimum}",
                    f"≤ {1.1 * minimum:.0f}",
                    calls <= 1.1 * minimum,
                )
                row(
                    "  worker RSS growth",
                    f"{rss_after - rss_before:.1f} MB",
                    "< 50 MB",
                    rss_after - rss_before < 50,
                )

                _clear_stats(plenty)
                again, again_s = _run(conn_id, "stock_full")
                calls = _write_calls(plenty)
                row("re-run, nothing changed", f"{again_s:.1f} s, {again.status}")
                row("  writes", str(calls), "0", calls == 0)
                row(
                    "  time vs first run",
                    f"{100 * again_s / first_s:.0f} %",
                    "≤ 20 %",
                    again_s <= 0.2 * first_s,
                )

                changed = requests.post(
                    f"{spocc.url}/__admin/catalogue/mutate",
                    json={"percent": 1, "kind": "stock"},
                    timeout=30,
                ).json()["count"]
                seq = _ledger_seq(plenty)
                _clear_stats(plenty)
                delta, delta_s = _run(conn_id, "stock_delta")
                calls = _write_calls(plenty)
                minimum = _bulk_minimum(plenty, seq)
                row(f"1 % delta ({changed} variations)", f"{delta_s:.1f} s, {delta.status}")
                row(
                    "  write calls vs bulk minimum",
                    f"{calls} / {minimum}",
                    f"≤ {1.1 * minimum:.0f}",
                    calls <= 1.1 * minimum,
                )
        finally:
            spocc.stop()
            plenty.shutdown()

        if args.planner_variations:
            figures = planner_figures(env, args.planner_variations)
            row(
                f"planner over {args.planner_variations:,} variations",
                f"{figures['seconds']:.0f} s, {figures['units']} units",
            )
            row("  planner RSS after imports", f"{figures['rss_before_mb']:.0f} MB")
            row(
                "  planner peak RSS",
                f"{figures['peak_rss_mb']:.0f} MB",
                "< 150 MB",
                figures["peak_rss_mb"] < 150,
            )


if __name__ == "__main__":
    main()
