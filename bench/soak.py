"""Issue 9, the soak: `spocc up` on the embedded defaults (SQLite, embedded Redis, the demo
connection in test mode against the sandboxes) with the demo catalogue and a stream of demo
orders, for `--minutes` (default 30). Each order is made in the sandbox PlentyONE, whose
event procedures call the receiver, and carried on as `spocc demo` does: paid (11),
shipping documents (6), a return.

At the end, each figure beside its target: dead letters (0), a last success for every
enabled process, every order registered/paid/shipped/returned once at the SPoCC sandbox
(none missing, none doubled), the exit code of `spocc status` (0); then everything stops on
SIGTERM, and no process of the run may outlive it.

Everything runs in a private data directory with free ports, so a soak never meets another
`spocc up` on the machine. Every loop is bounded by a count and a time limit.

    python -m bench.soak --minutes 30
    python -m bench.soak --minutes 3 --variations 200
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from schemas.config import PROCESSES
from tests.support.processes import ROOT, SpoccProcess, free_port

STEPS = ("order.registered", "order.payment", "order.shipping_documents", "order.return")
HANDED_OVER = 5.1
START_SECONDS = 300.0  # `up` on a loaded machine: migrations, sandboxes, workers, Flower
STEP_SECONDS = 120.0  # one `spocc demo` command
HANDOVER_SECONDS = 180.0  # a new order until the connector sets it to 5.1
DRAIN_SECONDS = 240.0  # after the stream: the last orders' events applied
STOP_SECONDS = 180.0  # SIGTERM until `up` has stopped its parts (a warm worker shutdown)


@dataclass
class Order:
    id: int
    made: float
    handed_over: float | None = None
    carried: bool = False  # paid, shipping documents and return sent
    carrying: bool = False  # those steps are under way


@dataclass
class Figures:
    minutes: float
    variations: int
    orders_made: int = 0
    orders_carried: int = 0
    not_handed_over: list[int] = field(default_factory=list)
    demo_failures: list[str] = field(default_factory=list)
    ledger: dict[str, Counter[int]] = field(default_factory=dict)  # kind → order id → n
    accepted: dict[str, int] = field(default_factory=dict)  # event type → deliveries
    deliveries_by_status: dict[str, int] = field(default_factory=dict)
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # task, status, error
    last_success: dict[str, str | None] = field(default_factory=dict)
    runs_by_status: dict[str, int] = field(default_factory=dict)
    status_exit: int | None = None
    status_output: str = ""
    stopped_cleanly: bool = False
    strays: list[str] = field(default_factory=list)
    orders: dict[int, Order] = field(default_factory=dict)

    def applied_once(self, kind: str) -> int:
        counts = self.ledger.get(kind, Counter())
        return sum(1 for o in self.orders.values() if o.carried and counts[o.id] == 1)

    def doubled(self) -> list[tuple[str, int, int]]:
        return [(kind, oid, n) for kind, counts in self.ledger.items()
                for oid, n in counts.items() if n > 1]

    def missing_processes(self) -> list[str]:
        return [p for p, at in self.last_success.items() if at is None]

    def every_order_once(self) -> bool:
        carried = [o for o in self.orders.values() if o.carried]
        return bool(carried) and not self.doubled() and all(
            self.ledger.get(k, Counter())[o.id] == 1 for k in STEPS for o in carried)

    def report(self) -> str:
        carried = self.orders_carried
        lines = [
            f"soak: {self.minutes:g} min of demo orders, {self.variations} variations, "
            "SQLite + embedded Redis (the machine is shared; figures are under its load)",
            f"  orders made in the sandbox PlentyONE: {self.orders_made}; handed over (5.1) "
            f"and carried on (11, 6, return): {carried}",
        ]
        if self.not_handed_over:
            lines.append(f"  not handed over within {HANDOVER_SECONDS:.0f} s: "
                         f"{self.not_handed_over}")
        for kind in STEPS:
            lines.append(f"  {kind:<26} applied once {self.applied_once(kind):>4} / {carried}"
                         "   (target: equal)")
        lines.append(f"  doubled at SPoCC: {len(self.doubled())}   (target 0) "
                     f"{self.doubled()[:5] or ''}")
        lines.append(f"  events accepted by the receiver: {dict(sorted(self.accepted.items()))}; "
                     f"deliveries {dict(sorted(self.deliveries_by_status.items()))}")
        lines.append(f"  dead letters: {len(self.dead_letters)}   (target 0)")
        for task, status, error in self.dead_letters[:10]:
            lines.append(f"    {task} [{status}]: {error[:160]}")
        have = len(self.last_success) - len(self.missing_processes())
        lines.append(f"  processes with a last success: {have} / {len(self.last_success)}   "
                     f"(target: every one) missing: {self.missing_processes() or 'none'}")
        lines.append(f"  sync runs: {dict(sorted(self.runs_by_status.items()))}")
        lines.append(f"  `spocc status` exit code: {self.status_exit}   (target 0)")
        if self.demo_failures:
            lines.append(f"  `spocc demo` failures: {len(self.demo_failures)}; first: "
                         f"{self.demo_failures[0][:300]}")
        lines.append(f"  stopped on SIGTERM: {'yes' if self.stopped_cleanly else 'NO'}; stray "
                     f"processes: {len(self.strays)}   (target 0) {self.strays[:5] or ''}")
        return "\n".join(lines)

    def passed(self) -> bool:
        return (not self.dead_letters and not self.missing_processes()
                and self.every_order_once() and self.status_exit == 0
                and self.stopped_cleanly and not self.strays)


class Soak:
    def __init__(self, workdir: Path, minutes: float, variations: int, order_every: float,
                 concurrency: int = 2) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "var"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SPOCC_")}
        self.env["SPOCC_DATA_DIR"] = str(self.data_dir)
        self.ports = {name: free_port() for name in
                      ("plentyone", "spocc", "webhook", "flower", "metrics")}
        self.figures = Figures(minutes=minutes, variations=variations)
        self.order_every = order_every
        self.up = SpoccProcess(
            ["up", "--variations", str(variations), "--concurrency", str(concurrency),
             *(a for name, port in self.ports.items() for a in (f"--{name}-port", str(port)))],
            self.env, workdir, "up",
        )
        self.sessions: set[int] = set()  # `up` and its parts each lead a session
        self.plenty_seq = 0
        # Orders are carried on beside the stream, as several staff members would.
        self.pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="soak-demo")
        self.pending: list[Future[None]] = []
        self.lock = threading.Lock()

    # -- driving -------------------------------------------------------------------------

    def run(self) -> Figures:
        self.up.start()
        try:
            self._wait_started()
            self._stream()
            self._drain()
            self._collect()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self._stop()
        return self.figures

    def _wait_started(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while "the sandbox PlentyONE calls" not in self.up.log():
            if self.up.proc is not None and self.up.proc.poll() is not None:
                raise RuntimeError(f"`spocc up` exited:\n{self.up.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"`spocc up` not ready in {START_SECONDS:.0f} s:\n"
                                   f"{self.up.log()[-3000:]}")
            time.sleep(0.5)
        self._note_sessions()

    def _stream(self) -> None:
        minutes = self.figures.minutes
        end = time.monotonic() + minutes * 60
        most = int(minutes * 60 / self.order_every) + 1
        last_made = 0.0
        while time.monotonic() < end:
            self._alive()
            if len(self.figures.orders) < most and time.monotonic() - last_made >= \
                    self.order_every:
                last_made = time.monotonic()
                self._make_order()
            self._advance()
            self._note_sessions()
            time.sleep(1.0)

    def _drain(self) -> None:
        """Carry on the orders still waiting for 5.1, then wait for every step at SPoCC."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and (any(
                not o.carrying and o.id not in self.figures.not_handed_over
                for o in self.figures.orders.values())
                or not all(f.done() for f in self.pending)):
            self._alive()
            self._advance()
            time.sleep(1.0)
        while time.monotonic() < deadline and not self._all_applied():
            time.sleep(2.0)

    def _alive(self) -> None:
        if self.up.proc is not None and self.up.proc.poll() is not None:
            raise RuntimeError(f"`spocc up` exited during the soak:\n{self.up.log()[-3000:]}")

    def _demo(self, *args: str) -> str | None:
        try:
            done = subprocess.run([sys.executable, "-m", "cli", "demo", *args], cwd=ROOT,
                                  env=self.env, capture_output=True, text=True,
                                  timeout=STEP_SECONDS)
        except subprocess.TimeoutExpired:
            with self.lock:
                self.figures.demo_failures.append(f"demo {' '.join(args)}: timed out")
            return None
        if done.returncode != 0:
            with self.lock:
                self.figures.demo_failures.append(
                    f"demo {' '.join(args)}: exit {done.returncode}: {done.stdout}{done.stderr}")
            return None
        return done.stdout

    def _make_order(self) -> None:
        made = self._demo("order")
        if made is None:
            return
        order_id = int(made.split("order ")[1].split()[0])
        self.figures.orders[order_id] = Order(order_id, time.monotonic())
        self.figures.orders_made += 1

    def _advance(self) -> None:
        """Orders the connector handed over (5.1) are paid, get their shipping documents and
        are returned, each step a `spocc demo` command, as a shop's staff would."""
        self._read_handovers()
        now = time.monotonic()
        for order in list(self.figures.orders.values()):
            if order.carried or order.carrying or order.id in self.figures.not_handed_over:
                continue
            if order.handed_over is None:
                if now - order.made > HANDOVER_SECONDS:
                    self.figures.not_handed_over.append(order.id)
                continue
            order.carrying = True
            self.pending.append(self.pool.submit(self._carry, order))

    def _carry(self, order: Order) -> None:
        steps = (("status", str(order.id), "11"), ("status", str(order.id), "6"),
                 ("return", str(order.id)))
        if all(self._demo(*step) is not None for step in steps):
            with self.lock:
                order.carried = True
                self.figures.orders_carried += 1

    def _read_handovers(self) -> None:
        url = f"http://127.0.0.1:{self.ports['plentyone']}/__admin/ledger"
        try:
            answer = requests.get(url, params={"kind": "order.status_changed",
                                               "since": str(self.plenty_seq)}, timeout=10).json()
        except requests.RequestException:
            return
        for entry in answer["entries"]:
            self.plenty_seq = max(self.plenty_seq, int(entry["seq"]))
            data = entry["data"]
            order = self.figures.orders.get(int(data.get("orderId", 0) or 0))
            if order is not None and order.handed_over is None and \
                    float(data.get("statusId", 0) or 0) == HANDED_OVER:
                order.handed_over = time.monotonic()

    def _read_ledger(self) -> None:
        url = f"http://127.0.0.1:{self.ports['spocc']}/__admin/ledger"
        answer = requests.get(url, params={"kind": list(STEPS)}, timeout=30).json()
        ledger: dict[str, Counter[int]] = {k: Counter() for k in STEPS}
        for entry in answer["entries"]:
            oid = entry["data"].get("plentyOrderId")
            if oid is not None:
                ledger[entry["kind"]][int(oid)] += 1
        self.figures.ledger = ledger

    def _all_applied(self) -> bool:
        try:
            self._read_ledger()
        except requests.RequestException:
            return False
        return all(self.figures.ledger[k][o.id] >= 1 for k in STEPS
                   for o in self.figures.orders.values() if o.carried)

    # -- figures -------------------------------------------------------------------------

    def _collect(self) -> None:
        self._read_ledger()
        f = self.figures
        db = sqlite3.connect(f"file:{self.data_dir / 'spocc.db'}?mode=ro", uri=True, timeout=30)
        try:
            f.dead_letters = [(t, s, e or "") for t, s, e in db.execute(
                "SELECT task_name, status, last_error FROM dead_letters ORDER BY id")]
            last = dict(db.execute(
                "SELECT process, MAX(finished_at) FROM sync_runs WHERE status = 'succeeded' "
                "AND connection_id = 'demo' GROUP BY process").fetchall())
            # The demo connection enables every process (`processes: {}`).
            f.last_success = {p: last.get(p) for p in PROCESSES}
            f.runs_by_status = dict(db.execute(
                "SELECT status, COUNT(*) FROM sync_runs GROUP BY status").fetchall())
            f.accepted = dict(db.execute(
                "SELECT event_type, COUNT(*) FROM event_deliveries GROUP BY event_type"
            ).fetchall())
            f.deliveries_by_status = dict(db.execute(
                "SELECT status, COUNT(*) FROM event_deliveries GROUP BY status").fetchall())
        finally:
            db.close()
        try:
            done = subprocess.run([sys.executable, "-m", "cli", "status"], cwd=ROOT,
                                  env=self.env, capture_output=True, text=True, timeout=120)
            f.status_exit, f.status_output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            f.status_output = "timed out after 120 s"

    # -- stopping ------------------------------------------------------------------------

    def _note_sessions(self) -> None:
        """`up` and the parts it started (restarted ones too): each leads its own session."""
        up = self.up.pid
        self.sessions.add(up)
        for stat in _stats():
            if stat["ppid"] == up:
                self.sessions.add(stat["pid"])

    def _stop(self) -> None:
        if self.up.proc is None:
            return
        self._note_sessions()
        if self.up.proc.poll() is None:
            os.kill(self.up.pid, signal.SIGTERM)
            try:
                self.up.proc.wait(timeout=STOP_SECONDS)
                self.figures.stopped_cleanly = "stopped" in self.up.log()
            except subprocess.TimeoutExpired:
                self.figures.stopped_cleanly = False
        time.sleep(1.0)
        left = [s for s in _stats() if s["sid"] in self.sessions]
        self.figures.strays = [f"{s['pid']} {s['comm']}" for s in left]
        for s in left:  # what a failed stop left behind is not left on the machine
            try:
                os.kill(int(s["pid"]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.up.stop(timeout=10)


def _stats() -> list[dict[str, Any]]:
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        if rest[0] == "Z":
            continue  # a zombie holds nothing; its parent reaps it
        rows.append({"pid": int(entry.name), "comm": comm, "ppid": int(rest[1]),
                     "sid": int(rest[3])})
    return rows


def soak(minutes: float, variations: int, order_every: float, workdir: Path | None = None,
         concurrency: int = 2) -> Figures:
    if workdir is not None:
        return Soak(workdir, minutes, variations, order_every, concurrency).run()
    with tempfile.TemporaryDirectory(prefix="spocc-soak-") as tmp:
        return Soak(Path(tmp), minutes, variations, order_every, concurrency).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--variations", type=int, default=16000)
    parser.add_argument("--order-every", type=float, default=10.0,
                        help="seconds between new orders")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this directory (kept: logs, SQLite) instead of a temp one")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    figures = soak(args.minutes, args.variations, args.order_every, args.keep, args.concurrency)
    print(figures.report())
    if figures.status_exit:
        print(figures.status_output[-4000:])
    return 0 if figures.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
