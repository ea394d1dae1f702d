"""Tasks that exist only for the foundation tests (loaded via SPOCC_EXTRA_TASK_MODULES)."""

from __future__ import annotations

import os
import time
from typing import Any

from clients.errors import ServerError
from store import idempotency
from workers import runtime
from workers.task_base import spocc_task


@spocc_task("spocc.test.effect", queue="default", max_retries=3)
def effect(self: Any, token: str, sleep_before: float = 0.0, sleep_after: float = 0.0) -> None:
    """Do an effect exactly once: the claim and the effect commit in one transaction."""
    marker = runtime.settings().data_dir / f"started-{token}-{self.request.retries}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    time.sleep(sleep_before)
    with runtime.db() as session:
        result = idempotency.claim(session, "test", "effect", token, "h")
        if result.claim is idempotency.Claim.NEW:
            idempotency.complete(session, result.key_id, {"pid": os.getpid()})
    time.sleep(sleep_after)


@spocc_task(
    "spocc.test.flaky", queue="default", max_retries=2, retry_backoff=False, default_retry_delay=0
)
def flaky(self: Any, token: str, fail_times: int) -> None:
    """Fails with a retryable error until it has run `fail_times` times, then records success."""
    client = runtime.redis_client()
    n = int(client.incr(f"test:flaky:{token}"))
    if n <= fail_times:
        raise ServerError(
            f"sandbox said 503 (run {n})", api="test", method="POST", path="/x", status=503
        )
    client.set(f"test:flaky:{token}:done", "1")


@spocc_task("spocc.test.channel_stores", queue="default", max_retries=0)
def channel_stores(self: Any, connection_id: str) -> int:
    """One real SPoCC call through the connector's client (the sandbox may be told to fail)."""
    import clients

    spocc = clients.build_spocc(runtime.connection(connection_id), runtime.redis_client())
    try:
        return len(list(spocc.channel_stores()))
    finally:
        spocc.close()
