"""Issue 10's figures: urgency between processes and scale in connections.

    python -m bench.fairness [--variations 16000] [--scale 10,100,1000] [--skip-images]
                             [--plan-variations 50000] [--plan 200/120] [--skip-plan]
                             [--unequal-variations 500] [--skip-unequal]
                             [--broker redis|rabbitmq]

- **images running (limits off):** after a full stock run (the delta's start), an image run
  of the demo catalogue (16,000 variations) is in progress; a stock delta of 5 % (800
  variations) is triggered 30 s in. Target: the delta
  finishes within 30 s. Before (issue 10, today's code then): 660 s after its trigger it had
  not started, 44 image messages still ahead of it.
- **two connections on a plan:** A and B each on 200 reads / 120 writes a minute. A runs a
  full stock+price sync of 50,000 variations; 60 s in, B's delta of 500 changed variations is
  triggered. Targets: B's delta finishes within 60 s of its trigger; from B's trigger to 3
  minutes after, A uses ≥ 90 % of its write budget, with no 429. Before: B's delta had not
  started 780 s after its trigger, its budget unused.
- **20 connections, unequal load (limits off):** first all 20 run a full stock sync of 500
  variations (one unit each): the equal-load p90 wait of a unit from its send to its start.
  Then one connection starts a full run of 100 times as many (100 units) and, once 20 of
  its units are planned, 19 others start theirs. Targets: each light connection's p90
  wait ≤ 2 x the equal-load p90 (1 s floor); the heavy connection keeps at least its fair
  share (1/20) of the unit starts meanwhile.
- **scale** (`bench.tick_scale`): N connections (7 processes each, all enabled, no API
  behind them); beat's tick over all of them, timed on the first minute (every slot due,
  each configuration loaded for the first time; three such ticks, the median per
  connection), later in that minute (nothing due) and a day on (every slot due again,
  configurations cached). Target: under 5 s at 1,000, and the time per connection at 1,000
  within 1.25 x the time per connection at 100. Before (2026-12-03, one INSERT a slot):
  38.1 s at 1,000 with every slot due; nothing due, 2.7 s.
"""

from __future__ import annotations

import argparse
import ast
import threading
import time
from typing import Any

import requests

from bench import tick_scale
from bench.catalogue_runs import (
    outcomes,
    processes_off,
    run_of,
    start_run,
    store_connection,
    wait_runs,
)
from bench.harness import BROKERS, BenchEnv, bench_env, percentile, row, worker


def _delta(conn_id: str, ask_after: float = 0) -> tuple[str | None, Any]:
    """Trigger a stock delta and wait for it (15 minutes at most): what was ahead of it
    `ask_after` seconds after its trigger, and its closed run."""
    from tasks.catalogue import waits
    from workers import runtime

    triggered = time.perf_counter()
    delta = start_run(conn_id, "stock_delta")
    time.sleep(ask_after)
    with runtime.db() as session:
        why = waits.why(session, run_of(delta))
    while run_of(delta).status == "running" and time.perf_counter() - triggered < 900:
        time.sleep(0.2)
    return why, run_of(delta)


def images_then_delta(env: BenchEnv, n: int) -> None:
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc
    from tasks.catalogue.registry import CATALOGUE_QUEUE, tier
    from workers import broker

    print(f"images running, then a stock delta ({n:,} variations, limits off, one "
          "catalogue worker -c 2)")
    spocc = start_spocc(variations=n)
    plenty = start_background(variations=n, plan="off")
    try:
        conn_id = store_connection(plenty.url, spocc.url, processes_off())
        with worker(env, "catalogue,default", 2, "catalogue"):
            # A full stock run first: a delta starts from the last success, and with none
            # it would cover the whole catalogue (32 units, not the 800 changed).
            [full] = wait_runs([start_run(conn_id, "stock_full")], 900)
            row("full stock run before (the delta's start)", full)
            images = start_run(conn_id, "images")
            time.sleep(30)
            changed = requests.post(f"{spocc.url}/__admin/catalogue/mutate",
                                    json={"percent": 5, "kind": "stock"},
                                    timeout=30).json()["count"]
            queued_images = broker.depth(CATALOGUE_QUEUE) - broker.depth(
                CATALOGUE_QUEUE, tier("stock_delta"))
            triggered = time.perf_counter()
            why, done = _delta(conn_id)
            took = time.perf_counter() - triggered
            still = run_of(images)
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


def _writes(url: str) -> tuple[int, int]:
    """(write calls, 429 answers) the sandbox has counted, logins left out."""
    stats = requests.get(f"{url}/__admin/stats", timeout=30).json()
    calls = [r for r in stats["routes"] if not r["route"].startswith("/rest/login")]
    writes = sum(r["count"] for r in calls if r["method"] not in ("GET", "HEAD", "OPTIONS"))
    limited = sum(int(r["statuses"].get("429", 0)) for r in calls)
    return writes, limited


def two_on_a_plan(env: BenchEnv, n: int, plan: str, small: int = 5000) -> None:
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    writes_a_minute = int(plan.split("/")[1])
    print(f"two connections on the plan {plan} (reads/writes a minute): A's full run of "
          f"{n:,} variations, B's delta of 10 % of {small:,}; one catalogue worker -c 2")
    spocc_a, plenty_a = start_spocc(variations=n), start_background(variations=n, plan=plan)
    spocc_b = start_spocc(variations=small)
    plenty_b = start_background(variations=small, plan=plan)
    try:
        a = store_connection(plenty_a.url, spocc_a.url, processes_off())
        b = store_connection(plenty_b.url, spocc_b.url, processes_off())
        with worker(env, "catalogue,default", 2, "catalogue"):
            first = start_run(b, "stock_full")  # B's delta starts from a finished full run
            while run_of(first).status == "running":
                time.sleep(1)
            full = start_run(a, "stock_full")
            time.sleep(60)
            changed = requests.post(f"{spocc_b.url}/__admin/catalogue/mutate",
                                    json={"percent": 10, "kind": "stock"},
                                    timeout=30).json()["count"]
            before_a = _writes(str(plenty_a.url))
            triggered = time.perf_counter()
            why, done = _delta(b, ask_after=2)
            took = time.perf_counter() - triggered
            time.sleep(max(0.0, triggered + 180 - time.perf_counter()))
            after_a = _writes(str(plenty_a.url))
            a_writes = after_a[0] - before_a[0]
            share = a_writes / (3 * writes_a_minute)
            row("variations B's delta changed", f"{changed:,}")
            row("ahead of B's delta 2 s after its trigger", why or "nothing")
            row("B's delta: trigger → finished", f"{took:.1f} s, {done.status}",
                "≤ 60 s (before: not started after 780 s)",
                took <= 60 and done.status == "succeeded")
            row("A's writes, B's trigger → +3 min", f"{a_writes} ({share:.0%} of its budget)",
                "≥ 90 %", share >= 0.9)
            row("A's 429 answers meanwhile", f"{after_a[1] - before_a[1]}", "0",
                after_a[1] == before_a[1])
            still = run_of(full)
            row("A's full run meanwhile", f"{still.status}, "
                f"{still.pushed + still.unchanged + still.skipped}/{still.found} done")
    finally:
        for sandbox in (spocc_a, spocc_b):
            sandbox.stop()
        for server in (plenty_a, plenty_b):
            server.shutdown()


class _UnitStarts:
    """When each unit task was sent and first started, by connection, from the task events
    the connector's senders and workers publish (`task-sent`, `task-started`)."""

    def __init__(self) -> None:
        from tasks.catalogue.tasks import sync_unit

        self._name = sync_unit.name
        self.connection: dict[str, str] = {}
        self.sent: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, daemon=True)

    def __enter__(self) -> _UnitStarts:
        self._thread.start()
        time.sleep(1)  # the receiver's queue is bound before anything is sent
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _capture(self) -> None:
        from workers.celery_app import app

        with app.connection_for_read() as connection:
            receiver = app.events.Receiver(connection, handlers={"*": self._handle})
            for _ in receiver.itercapture(limit=None, timeout=None, wakeup=False):
                if self._stop.is_set():
                    return

    def _handle(self, event: dict[str, Any]) -> None:
        uuid_, kind = event.get("uuid"), event.get("type")
        if kind == "task-sent" and event.get("name") == self._name and uuid_:
            args = ast.literal_eval(str(event.get("args") or "()"))
            if args:
                self.connection[uuid_] = str(args[0])
                self.sent.setdefault(uuid_, float(event["timestamp"]))
        elif kind == "task-started" and uuid_:
            self.started.setdefault(uuid_, float(event["timestamp"]))

    def waits(self, connections: set[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {c: [] for c in connections}
        for uuid_, conn in list(self.connection.items()):
            if conn in out and uuid_ in self.started:
                out[conn].append(max(0.0, self.started[uuid_] - self.sent[uuid_]))
        return out

    def starts_between(self, begin: float, end: float) -> dict[str, int]:
        counts: dict[str, int] = {}
        for uuid_, at in list(self.started.items()):
            conn = self.connection.get(uuid_)
            if conn is not None and begin <= at <= end:
                counts[conn] = counts.get(conn, 0) + 1
        return counts


def _full_runs(connections: list[str]) -> list[int]:
    return [start_run(c, "stock_full") for c in connections]


def unequal(env: BenchEnv, light: int = 500, count: int = 20) -> None:
    """`count` connections, one with 100x the units of the others (stock_full units of 500
    variations: `light` variations each, 100 x `light` for the heavy one). Each light
    connection's p90 wait from a unit's send to its start, against the same figure with
    all `count` connections equally loaded (taken first, in this run)."""
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    heavy_n = 100 * light
    print(f"{count} connections, one with 100x the units of the others (full stock runs: "
          f"{light:,} variations each, {heavy_n:,} for the heavy one; limits off; one "
          "catalogue worker -c 2)")
    # One PlentyONE account per retailer in life; here the light connections share a
    # sandbox, so it lets each of them hold its own sessions (3 an account).
    pairs = [(start_spocc(variations=n),
              start_background(variations=n, plan="off", max_sessions=3 * count))
             for n in (light, light, heavy_n)]
    try:
        (s1, p1), (s2, p2), (sh, ph) = pairs
        equal = [store_connection(p1.url, s1.url, processes_off()) for _ in range(count)]
        lights = [store_connection(p2.url, s2.url, processes_off()) for _ in range(count - 1)]
        heavy = store_connection(ph.url, sh.url, processes_off())
        with worker(env, "catalogue,default", 2, "catalogue"), _UnitStarts() as starts:
            equal_runs = _full_runs(equal)
            statuses = wait_runs(equal_runs, 600)
            base = starts.waits(set(equal))
            base_p90 = percentile([w for ws in base.values() for w in ws], 90)
            row("equal load: runs", outcomes(statuses, equal_runs))
            row("equal load: p90 wait, send → start (all connections)", f"{base_p90:.2f} s")
            heavy_run = start_run(heavy, "stock_full")
            # the heavy connection's units fill the workers first
            deadline = time.perf_counter() + 180
            while run_of(heavy_run).units < 20 and time.perf_counter() < deadline:
                time.sleep(0.5)
            triggered = time.time()
            light_runs = _full_runs(lights)
            statuses = wait_runs(light_runs, 600)
            ended = time.time()
            waits = starts.waits(set(lights))
            limit = max(1.0, 2 * base_p90)
            worst = max((percentile(ws, 90) for ws in waits.values() if ws), default=0.0)
            row("unequal load: light runs", outcomes(statuses, light_runs))
            row("unequal load: worst light connection's p90 wait", f"{worst:.2f} s",
                f"≤ {limit:.2f} s (2 x equal, 1 s floor)", worst <= limit)
            shares = starts.starts_between(triggered, ended)
            total = sum(shares.values())
            heavy_share = shares.get(heavy, 0) / total if total else 0.0
            row("heavy connection's share of unit starts while the light ones ran",
                f"{heavy_share:.0%} ({shares.get(heavy, 0)} of {total})",
                f"≥ {1 / count:.0%} (its fair share)", heavy_share >= 1 / count)
            still = run_of(heavy_run)
            row("heavy run meanwhile", f"{still.status}, "
                f"{still.pushed + still.unchanged + still.skipped}/{still.found} done")
    finally:
        for spocc, plenty in pairs:
            spocc.stop()
            plenty.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variations", type=int, default=16_000)
    parser.add_argument("--scale", default="10,100,1000")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--plan-variations", type=int, default=50_000)
    parser.add_argument("--plan", default="200/120")
    parser.add_argument("--skip-plan", action="store_true")
    parser.add_argument("--unequal-variations", type=int, default=500,
                        help="a light connection's catalogue; the heavy one has 100x")
    parser.add_argument("--skip-unequal", action="store_true")
    parser.add_argument("--broker", choices=BROKERS, default="redis",
                        help="the Celery broker: Redis, or RabbitMQ (quorum queues, tiers as "
                        "queues); Redis keeps the budgets and the schedule either way")
    args = parser.parse_args()
    print(f"broker: {args.broker}")
    if not args.skip_plan:
        with bench_env(args.broker) as env:
            two_on_a_plan(env, args.plan_variations, args.plan)
    with bench_env(args.broker) as env:
        if not args.skip_images:
            images_then_delta(env, args.variations)
    if not args.skip_unequal:
        with bench_env(args.broker) as env:
            unequal(env, args.unequal_variations)
    with bench_env(args.broker):
        tick_scale.scale([int(s) for s in args.scale.split(",") if s])


if __name__ == "__main__":
    main()
