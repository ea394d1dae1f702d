"""Retention: idempotency keys after 96 h, attempt rows and resolved dead letters after 30 days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from store import dead_letters, idempotency
from workers import runtime
from workers.task_base import spocc_task


@spocc_task("spocc.maintenance.reap", queue="default", max_retries=2)
def reap(self: Any) -> dict[str, int]:
    r = runtime.settings().retention
    with runtime.db() as session:
        keys = idempotency.reap(session)
        rows = dead_letters.reap(
            session,
            resolved_older_than=timedelta(seconds=r.resolved_dead_letter_seconds),
            attempts_older_than=timedelta(seconds=r.attempt_seconds),
        )
    return {"idempotency_keys": keys, "rows": rows}
