"""Catalogue runs for the benchmarks (`bench.fairness`, `bench.tick_scale`,
`bench.worker_rss`): store a connection, start a process's run, wait for runs and tell
their outcomes, against whatever `bench.harness.bench_env` set up."""

from __future__ import annotations

import time
import uuid
from typing import Any


def store_connection(plenty_url: str, spocc_url: str,
                     processes: dict[str, Any] | None = None) -> str:
    from store import config_store
    from tests.conftest import connection_document
    from workers import runtime

    conn_id = f"fair-{uuid.uuid4().hex[:8]}"
    changes = {"processes": processes} if processes is not None else {}
    doc = connection_document(conn_id, plenty_url, spocc_url, **changes)
    with runtime.db() as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return conn_id


def processes_off() -> dict[str, Any]:
    from schemas.config import PROCESSES

    return {name: {"enabled": False} for name in PROCESSES}


def start_run(conn_id: str, process: str) -> int:
    from tasks.catalogue import control
    from tasks.catalogue.tasks import start
    from workers import runtime

    with runtime.db() as session:
        run_id = control.start_run(session, conn_id, process, trigger="bench").id
    start(conn_id, run_id)
    return run_id


def run_of(run_id: int) -> Any:
    from store.models import SyncRun
    from workers import runtime

    with runtime.db() as session:
        return session.get_one(SyncRun, run_id)


def wait_runs(run_ids: list[int], seconds: float) -> list[str]:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        statuses = [run_of(r).status for r in run_ids]
        if all(s != "running" for s in statuses):
            return statuses
        time.sleep(0.5)
    return [run_of(r).status for r in run_ids]


def outcomes(statuses: list[str], run_ids: list[int]) -> str:
    from collections import Counter

    told = ", ".join(f"{n} {s}" for s, n in Counter(statuses).most_common())
    failed = [r for r, s in zip(run_ids, statuses, strict=True) if s != "succeeded"]
    return told + (f" (first: {run_of(failed[0]).reason})" if failed else "")
