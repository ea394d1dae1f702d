"""`make bench`: every benchmark in turn, each printing its figures beside its targets."""

from __future__ import annotations

import importlib.util
import sys

from bench.harness import run_module

BENCHES = ["bench.foundation", "bench.limiter", "bench.catalogue_sync", "bench.receiver",
           "bench.order_latency", "bench.fairness", "bench.worker_rss"]

if __name__ == "__main__":
    failed = 0
    for module in BENCHES:
        if importlib.util.find_spec(module) is None:
            continue
        failed += run_module(module, *sys.argv[1:]) != 0
    sys.exit(1 if failed else 0)
