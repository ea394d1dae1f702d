"""The shared rate limiter, measured (run by hand: `uv run python bench/limiter.py`).

1. Overhead: the time one `acquire` (one Lua call) costs against the machine's Redis,
   median and p99 over many calls, and the same for `observe` (fed after every answer).
2. Budget: a PlentyONE sandbox on a plan of 120 writes a minute; `--workers` processes push
   stock corrections as fast as the shared limiter lets them for `--duration` seconds while
   another process makes an order call every `--order-every` seconds. Reported: the 429s the
   sandbox answered (target 0), the share of the plan's budget used (target >= 90 %), and the
   longest wait of an order call for its slot (target < one window).

Targets from issue 4: overhead <= 0.3 ms per call; 0 x 429, >= 90 % of the budget; every
order call waits less than one window.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import redis as redislib
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import percentile
from clients.http import RetryPolicy, Timeouts
from clients.plentyone import PlentyOneClient
from clients.ratelimit import CATALOGUE, ORDERS, LimiterSettings, RateLimiter
from schemas.secret import Secret

REDIS_URL = "redis://127.0.0.1:6379/0"
USER, PASSWORD = "spocc-demo", "demo-password"
STOCK_ROUTE = "/rest/stockmanagement/warehouses/<int:warehouse_id>/stock/correction"


def overhead(calls: int) -> dict[str, float]:
    r = redislib.Redis.from_url(REDIS_URL)
    key = f"bench:limiter:{uuid.uuid4().hex}"
    limiter = RateLimiter(r, key, LimiterSettings(default_limit=10**9))
    headers = {
        "X-Plenty-Global-Short-Period-Limit": str(10**9),
        "X-Plenty-Global-Short-Period-Calls-Left": str(10**9 - 1),
        "X-Plenty-Global-Short-Period-Decay": "60",
        "X-Plenty-Global-Long-Period-Calls-Left": "99999",
        "X-Plenty-Global-Long-Period-Decay": "80000",
        "X-Plenty-Route-Calls-Left": str(10**9 - 1),
        "X-Plenty-Route-Decay": "60",
    }
    for _ in range(200):  # warm the connection and the script cache
        limiter.acquire(priority=CATALOGUE)
        limiter.observe(headers)
    acquire_ms: list[float] = []
    observe_ms: list[float] = []
    for i in range(calls):
        t0 = time.perf_counter()
        limiter.acquire(priority=ORDERS if i % 10 == 0 else CATALOGUE)
        t1 = time.perf_counter()
        limiter.observe(headers)
        t2 = time.perf_counter()
        acquire_ms.append((t1 - t0) * 1000)
        observe_ms.append((t2 - t1) * 1000)
    r.delete(key)
    return {
        "acquire_median_ms": statistics.median(acquire_ms),
        "acquire_p99_ms": percentile(acquire_ms, 99),
        "observe_median_ms": statistics.median(observe_ms),
        "observe_p99_ms": percentile(observe_ms, 99),
    }


def per_window(
    opened_at: float, times: list[float], window: float, start: float, end: float
) -> list[int]:
    """Writes per sandbox window, for the windows wholly inside [start, end].

    The sandbox's windows are fixed and start with the first call after the previous one
    ended (the first one with the login); rebuilt here from the calls' times.
    """
    counts: list[tuple[float, int]] = []
    win_start, n = opened_at, 0
    for t in times:
        if t >= win_start + window:
            counts.append((win_start, n))
            win_start, n = t, 0
        n += 1
    counts.append((win_start, n))
    return [c for ws, c in counts if ws >= start and ws + window <= end]


def _client(url: str, prefix: str, priority: str) -> PlentyOneClient:
    # Limiter settings left at their defaults: the plan is learned from the headers.
    return PlentyOneClient(
        url,
        USER,
        Secret(PASSWORD),
        connection_id="bench",
        redis=redislib.Redis.from_url(REDIS_URL),
        key_prefix=prefix,
        priority=priority,
        retry=RetryPolicy(attempts=5, backoff=0.1, deadline=600),
        timeouts=Timeouts(connect=3.05, read=30),
        acquire_timeout=600,
    )


def push(
    url: str, prefix: str, start_at: float, seconds: float, variations: list[int], warehouse: int
) -> dict[str, Any]:
    client = _client(url, prefix, CATALOGUE)
    client.token.get()
    time.sleep(max(0.0, start_at - time.time()))
    done = failed = 0
    times: list[float] = []
    end = start_at + seconds
    while time.time() < end:
        vid = variations[done % len(variations)]
        try:
            client.correct_stock(
                warehouse, [{"variationId": vid, "quantity": done % 40, "reasonId": 301}]
            )
            done += 1
            times.append(time.time())
        except Exception as exc:  # counted and reported, the push goes on
            failed += 1
            print(f"  push: {type(exc).__name__}: {exc}", file=sys.stderr)
    return {"done": done, "failed": failed, "times": times}


def orders(
    url: str, prefix: str, start_at: float, seconds: float, every: float, order_id: int
) -> dict[str, Any]:
    client = _client(url, prefix, ORDERS)
    client.token.get()
    time.sleep(max(0.0, start_at - time.time()))
    waits: list[float] = []
    times: list[float] = []
    failed = 0
    end = start_at + seconds
    i = 0
    while time.time() + every < end:
        time.sleep(every)
        try:
            client.set_order_status(order_id, 5.1 if i % 2 else 5)
            waits.append(client.http.last_rate_wait)
            times.append(time.time())
        except Exception as exc:
            failed += 1
            print(f"  order: {type(exc).__name__}: {exc}", file=sys.stderr)
        i += 1
    return {"waits": waits, "failed": failed, "times": times}


def budget_run(args: argparse.Namespace) -> dict[str, Any]:
    from sandboxes.plentyone import start_background

    plan = {
        "reads_per_minute": 280,
        "writes_per_minute": args.writes,
        "daily_cap": None,
        "window_seconds": args.window,
    }
    server = start_background(variations=50, plan=plan)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    try:
        setup = _client(server.url, prefix, CATALOGUE)
        # the login opens the sandbox's write window (its answer shows the write budget)
        login_at = time.time()
        setup.token.get()
        variations = [v["id"] for v in setup.variations()]
        warehouse = setup.warehouses()[0]["id"]
        order = requests.post(
            f"{server.url}/__admin/orders",
            json={
                "referrerId": 104.01,
                "statusId": 5,
                "warehouseId": warehouse,
                "fireEvents": False,
                "lines": [{"variationId": variations[0], "quantity": 1, "price": 9.95}],
            },
            timeout=10,
        ).json()
        requests.delete(f"{server.url}/__admin/stats", timeout=10)
        start_at = time.time() + 5.0
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.workers + 1, mp_context=ctx) as pool:
            pushes = [
                pool.submit(
                    push, server.url, prefix, start_at, args.duration, variations, warehouse
                )
                for _ in range(args.workers)
            ]
            order_future = (
                pool.submit(
                    orders,
                    server.url,
                    prefix,
                    start_at,
                    args.duration,
                    args.order_every,
                    order["id"],
                )
                if args.order_every > 0
                else None
            )
            pushed = [f.result() for f in pushes]
            ordered = (
                order_future.result() if order_future else {"waits": [], "failed": 0, "times": []}
            )
        stats = requests.get(f"{server.url}/__admin/stats", timeout=10).json()
    finally:
        server.shutdown()
    statuses: dict[str, int] = {}
    writes_ok = 0
    for route in stats["routes"]:
        if route["method"] in ("GET", "HEAD"):
            continue
        for status, n in route["statuses"].items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
            if str(status).startswith("2") and route["route"] != "/rest/login":
                writes_ok += n
    budget = args.writes * args.duration / args.window
    windows = per_window(
        login_at,
        sorted(t for r in [*pushed, ordered] for t in r["times"]),
        args.window,
        start_at,
        start_at + args.duration,
    )
    waits = ordered["waits"]
    return {
        "writes_ok": writes_ok,
        "catalogue_writes": sum(p["done"] for p in pushed),
        "order_writes": len(waits),
        "failed_calls": sum(p["failed"] for p in pushed) + ordered["failed"],
        "status_429": statuses.get("429", 0),
        "budget": budget,
        "budget_used_pct": 100.0 * writes_ok / budget,
        "order_wait_max_s": max(waits) if waits else 0.0,
        "order_wait_median_s": statistics.median(waits) if waits else 0.0,
        "window_s": args.window,
        "full_windows": windows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of pushing")
    parser.add_argument("--window", type=float, default=60.0, help="the plan's window, s")
    parser.add_argument("--writes", type=int, default=120, help="writes per window")
    parser.add_argument("--workers", type=int, default=2, help="pushing processes")
    parser.add_argument(
        "--order-every", type=float, default=7.0, help="seconds between order calls (0: none)"
    )
    parser.add_argument("--overhead-calls", type=int, default=20_000)
    parser.add_argument("--skip-budget", action="store_true", help="overhead only")
    # `make bench` passes the same flags to every benchmark: ignore the ones of others
    args, _ = parser.parse_known_args()

    o = overhead(args.overhead_calls)
    print(f"limiter overhead over {args.overhead_calls} calls against {REDIS_URL}:")
    print(
        f"  acquire  median {o['acquire_median_ms']:.3f} ms   p99 {o['acquire_p99_ms']:.3f} ms"
        "   (target <= 0.3 ms)"
    )
    print(f"  observe  median {o['observe_median_ms']:.3f} ms   p99 {o['observe_p99_ms']:.3f} ms")
    if args.skip_budget:
        return
    print(
        f"budget run: {args.workers} workers, {args.writes} writes / {args.window:g} s, "
        f"{args.duration:g} s, an order call every {args.order_every:g} s ...",
        flush=True,
    )
    b = budget_run(args)
    print(
        f"  writes answered 2xx   {b['writes_ok']}  (catalogue {b['catalogue_writes']}, "
        f"orders {b['order_writes']}, failed {b['failed_calls']})"
    )
    print(f"  429 answers           {b['status_429']}   (target 0)")
    full = b["full_windows"]
    if full:
        print(
            f"  per full window       {statistics.mean(full):.1f} of {args.writes} writes "
            f"({100 * statistics.mean(full) / args.writes:.1f} %, min {min(full)}) over "
            f"{len(full)} windows   (target >= 90 %)"
        )
    print(f"  writes / (plan rate x duration)  {b['budget_used_pct']:.1f} % of {b['budget']:.0f}")
    print(
        f"  order call wait       max {b['order_wait_max_s']:.2f} s, median "
        f"{b['order_wait_median_s']:.2f} s   (target < {b['window_s']:g} s)"
    )


if __name__ == "__main__":
    main()
