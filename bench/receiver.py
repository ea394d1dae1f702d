"""Issue 6, receiver: throughput against a bare Flask + gunicorn route that only calls
`.delay()` (target ≥ 0.5x, same run, same gunicorn settings), and the p99 accept latency
at 200 requests/s (target ≤ 25 ms). Load comes from separate processes (no GIL sharing)."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from bench.harness import BenchEnv, bench_env, percentiles, row
from tests.support.processes import ROOT, SpoccProcess, free_port, wait_until

TOKEN = "bench-webhook-token-0123456789"


def _up(url: str) -> bool:
    try:
        requests.post(url, timeout=1)
        return True
    except requests.RequestException:
        return False


def _blast(args: tuple[str, int, int, dict[str, str]]) -> int:
    url, start, count, headers = args
    ok = 0
    with requests.Session() as http:
        for i in range(start, start + count):
            answer = http.post(url, data=json.dumps({"orderId": i}), headers=headers, timeout=30)
            ok += answer.status_code == 200
    return ok


def throughput(url: str, total: int, clients: int, headers: dict[str, str], base: int) -> float:
    per = total // clients
    jobs = [(url, base + k * per, per, headers) for k in range(clients)]
    with mp.get_context("spawn").Pool(clients) as pool:
        pool.map(_blast, [(url, base - 1000 - k * 50, 50, headers) for k in range(clients)])
        start = time.perf_counter()
        accepted = sum(pool.map(_blast, jobs))
        elapsed = time.perf_counter() - start
    if accepted != per * clients:
        raise SystemExit(f"only {accepted} of {per * clients} accepted at {url}")
    return accepted / elapsed


def _paced(args: tuple[str, int, float, float, int, dict[str, str]]) -> list[float]:
    url, base, rate, seconds, offset, headers = args
    samples = []
    interval = 1.0 / rate
    with requests.Session() as http:
        start = time.perf_counter() + offset * interval / 4
        n = int(rate * seconds)
        for i in range(n):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            answer = http.post(url, data=json.dumps({"orderId": base + i}), headers=headers,
                               timeout=30)
            if answer.status_code != 200:
                raise SystemExit(f"{answer.status_code}: {answer.text[:200]}")
            samples.append((time.perf_counter() - sent) * 1000)
    return samples


def latency_at(url: str, rate: float, seconds: float, headers: dict[str, str], base: int,
               clients: int = 4) -> list[float]:
    jobs = [(url, base + k * 100_000, rate / clients, seconds, k, headers)
            for k in range(clients)]
    with mp.get_context("spawn").Pool(clients) as pool:
        return [s for part in pool.map(_paced, jobs) for s in part]


def _store_connection(env: BenchEnv) -> str:
    from store import config_store
    from tests.conftest import connection_document
    from workers import runtime

    conn_id = f"bench-{uuid.uuid4().hex[:6]}"
    doc = connection_document(conn_id, "http://127.0.0.1:9", "http://127.0.0.1:9",
                              webhooks={"token": TOKEN})
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with bench_env() as env:
        print(f"receiver (issue 6): gunicorn sync x{args.workers}, {args.clients} client "
              "processes, no worker consuming")
        conn_id = _store_connection(env)
        logs = Path(env.data_dir)
        port_ours, port_base = free_port(), free_port()
        ours = SpoccProcess(["webhooks", "--port", str(port_ours), "--workers",
                             str(args.workers), "--no-access-log"], env.env, logs,
                            "receiver").start()
        base = subprocess.Popen([sys.executable, "-m", "bench.receiver_baseline",
                                 str(port_base), str(args.workers)], cwd=ROOT, env=env.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url_ours = f"http://127.0.0.1:{port_ours}/hooks/{conn_id}/order-registered"
        url_base = f"http://127.0.0.1:{port_base}/hooks/{conn_id}/order-registered"
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            wait_until(lambda: _up(url_ours) and _up(url_base), 60, "both servers")
            rates: dict[str, float] = {}
            for rnd in range(2):  # alternate, so neither gets a quieter machine
                rates[f"base{rnd}"] = throughput(url_base, args.requests, args.clients,
                                                 headers, 10_000_000 * (rnd + 1))
                rates[f"ours{rnd}"] = throughput(url_ours, args.requests, args.clients,
                                                 headers, 10_000_000 * (rnd + 1))
            base_rate = max(rates["base0"], rates["base1"])
            our_rate = max(rates["ours0"], rates["ours1"])
            ratio = our_rate / base_rate
            row("baseline: bare route + .delay(), req/s", f"{base_rate:,.0f}/s")
            row("receiver: accepted events/s", f"{our_rate:,.0f}/s")
            row("receiver / baseline", f"{ratio:.2f}x", "≥ 0.5x", ratio >= 0.5)
            for rate in (args.rate, args.rate / 4):  # the target's rate, and one in reach
                samples = latency_at(url_ours, rate, args.seconds, headers,
                                     50_000_000 + int(rate) * 1_000_000)
                med, p99 = percentiles(samples)
                target = rate == args.rate
                row(f"accept latency at {rate:.0f} req/s, median", f"{med:.1f} ms")
                row(f"accept latency at {rate:.0f} req/s, p99", f"{p99:.1f} ms",
                    "≤ 25 ms" if target else "", (p99 <= 25) if target else None)
        finally:
            ours.stop()
            base.terminate()
            base.wait(10)
            from workers import runtime

            runtime.redis_client().delete("orders", "default")




if __name__ == "__main__":
    main()
