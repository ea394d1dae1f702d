"""Issue 10's worker-memory figure: what each connection a catalogue worker has served costs it.

    python -m bench.worker_rss [--sizes 10,100,1000] [--variations 20]

One catalogue worker (prefork, -c 2, as `spocc up` runs it) serves N connections, each of
which runs one full stock sync of a small catalogue (`--variations`) against one pair of
sandboxes. So every connection's configuration, tokens, limiters and breakers have been
touched in the worker's processes. After each size the worker's memory is read from
`/proc`: the proportional set size (PSS) of its whole process tree, so the pages the pool's
children share with their parent count once, and the largest child's RSS.

Child recycling (`SPOCC_MAX_TASKS_PER_CHILD`) is off for the run, or it would hide the
growth it exists to bound. A worker keeps the API clients of the last
`SPOCC_CLIENT_CACHE_SIZE` connections it served (256); before that bound (2026-12-03) it
kept every connection's, and the largest child grew by 42 KiB for each connection served,
41 MiB at 1,000. The figure is the memory added per connection served, over the
worker's own after its first run: at 1,000 connections it must be within 1.25 x the same
at 100 (issue 10, item 4: growth is linear, nothing kept per connection grows with the
number of connections).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.catalogue_runs import outcomes, processes_off, start_run, store_connection, wait_runs
from bench.harness import bench_env, row, worker


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the name in parentheses may hold spaces: the parent pid is after its ")"
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _tree(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def _kib(pid: int, path: str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid: int) -> tuple[float, float]:
    """(PSS of the process tree under `pid`, the largest RSS in it), in MiB."""
    pids = _tree(pid)
    pss = sum(_kib(p, "smaps_rollup", "Pss") for p in pids)
    rss = max(_kib(p, "status", "VmRSS") for p in pids)
    return pss / 1024, rss / 1024


def worker_rss(sizes: list[int], variations: int) -> None:
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    top = max(sizes)
    print(f"worker memory: one catalogue worker -c 2 serving N connections, each one full "
          f"stock run of {variations:,} variations (limits off, child recycling off)")
    spocc = start_spocc(variations=variations)
    # one PlentyONE account serves them all here: it lets each connection hold its sessions
    plenty = start_background(variations=variations, plan="off", max_sessions=3 * (top + 1))
    try:
        with bench_env(SPOCC_MAX_TASKS_PER_CHILD=str(10**9)) as env:
            with worker(env, "catalogue,default", 2, "rss") as proc:
                # The first run loads what every task needs (modules, pools, the schema
                # trees) in both children: the base the connections' costs add to.
                first = [store_connection(plenty.url, spocc.url, processes_off()) for _ in range(2)]
                wait_runs([start_run(c, "stock_full") for c in first], 120)
                base, base_rss = memory(proc.pid)
                row("after its first run: tree PSS, largest RSS",
                    f"{base:,.1f} / {base_rss:,.1f} MiB")
                made, per = 0, dict[int, float]()
                last, last_rss = base, base_rss
                for n in sizes:
                    fresh = [store_connection(plenty.url, spocc.url, processes_off())
                             for _ in range(n - made)]
                    made_before, made = made, n
                    began = time.perf_counter()
                    runs = [start_run(c, "stock_full") for c in fresh]
                    statuses = wait_runs(runs, 300 + 3 * len(runs))
                    took = time.perf_counter() - began
                    pss, rss = memory(proc.pid)
                    per[n] = (pss - base) / n * 1024
                    row(f"{n:>5} connections served: runs", outcomes(statuses, runs))
                    row(f"{n:>5} connections served: tree PSS, largest RSS",
                        f"{pss:,.1f} / {rss:,.1f} MiB", f"({took:.0f} s of runs)")
                    row(f"{n:>5} connections served: PSS added per connection",
                        f"{per[n]:,.1f} KiB")
                    row(f"{n:>5} connections served: added per connection since the last",
                        f"PSS {(pss - last) / (n - made_before) * 1024:,.1f} KiB, largest "
                        f"RSS {(rss - last_rss) / (n - made_before) * 1024:,.1f} KiB")
                    last, last_rss = pss, rss
                if 100 in per and 1000 in per:
                    ratio = per[1000] / per[100] if per[100] > 0 else 0.0
                    row("PSS added per connection, 1,000 vs 100", f"{ratio:.2f}x", "≤ 1.25x",
                        ratio <= 1.25)
    finally:
        spocc.stop()
        plenty.shutdown()
        os.environ.pop("SPOCC_MAX_TASKS_PER_CHILD", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--variations", type=int, default=20)
    args = parser.parse_args()
    worker_rss([int(s) for s in args.sizes.split(",") if s], args.variations)


if __name__ == "__main__":
    main()
