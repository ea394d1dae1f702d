"""Tasks that exist only for the foundation tests (loaded via SPOCC_EXTRA_TASK_MODULES)."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from clients.errors import ServerError
from store import idempotency
from workers import runtime
from workers.declare import spocc_task
from workers.task_base import SpoccTask


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


class TokenTask(SpoccTask):
    """A test task whose work is its token: attempts and dead letters are kept per token."""

    abstract = True

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        token = kwargs.get("token")
        return f"test:{token}" if isinstance(token, str) else None


@spocc_task(
    "spocc.test.token_flaky", queue="default", base=TokenTask, max_retries=2,
    retry_backoff=False, default_retry_delay=0,
)
def token_flaky(self: Any, token: str, fail_times: int) -> None:
    """`flaky`, with its token as its subject."""
    flaky.run(token, fail_times)


# Limits of seconds, not one: a new pool process on a loaded machine takes one to import.
@spocc_task("spocc.test.overrun", queue="default", base=TokenTask, max_retries=0,
            soft_time_limit=3, time_limit=4)
def overrun(self: Any, token: str) -> None:
    """Runs past its (4 s) hard time limit every time, deaf to the soft one (as a call
    stuck in C code would be): the pool kills it."""
    runtime.redis_client().incr(f"test:overrun:{token}")
    try:
        time.sleep(30)
    except SoftTimeLimitExceeded:
        time.sleep(30)


@spocc_task("spocc.test.suicide", queue="default", base=TokenTask, max_retries=0)
def suicide(self: Any, token: str) -> None:
    """Kills the process running it every time (as an out-of-memory kill would)."""
    runtime.redis_client().incr(f"test:suicide:{token}")
    os.kill(os.getpid(), signal.SIGKILL)


@spocc_task("spocc.test.slow_once", queue="default", base=TokenTask, max_retries=2,
            retry_backoff=False, default_retry_delay=0, soft_time_limit=3, time_limit=20)
def slow_once(self: Any, token: str) -> None:
    """Overruns its 3 s soft time limit on the first run only."""
    if int(runtime.redis_client().incr(f"test:slow:{token}")) == 1:
        time.sleep(10)
    runtime.redis_client().set(f"test:slow:{token}:done", "1")


@spocc_task("spocc.test.held", queue="default", base=TokenTask, max_retries=0)
def held(self: Any, token: str, holds: int) -> None:
    """Waits (defers) `holds` times, then records the retries Celery counted."""
    client = runtime.redis_client()
    if int(client.incr(f"test:held:{token}")) <= holds:
        self.defer(0.2, f"waiting for test {token}")
    client.set(f"test:held:{token}:retries", str(self.request.retries))


@spocc_task("spocc.test.periodic_blip", queue="default", base=TokenTask, max_retries=0,
            periodic=True)
def periodic_blip(self: Any, token: str, blips: int) -> None:
    """A beat task whose database connection is terminated under it `blips` times (as
    `pg_terminate_backend` or a PostgreSQL restart does), then one that succeeds."""
    from sqlalchemy import text

    client = runtime.redis_client()
    run = int(client.incr(f"test:blip:{token}"))
    with runtime.db() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if run <= blips:
            with runtime.db() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.execute(text("SELECT 1"))
    client.set(f"test:blip:{token}:done", "1")


# The bookkeeping statement whose connection the next `spocc.test.cut` in this process has
# terminated under it: the tally that opens an execution, or the record that closes it.
_ARMED: dict[str, str] = {}
_CUT_AT = {"open": "started_at <", "close": "duration_ms="}


class CutTask(TokenTask):
    abstract = True

    def subject_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        # Called just before the task's bookkeeping opens the execution.
        token, at = kwargs.get("token"), kwargs.get("at")
        if isinstance(token, str) and isinstance(at, str):
            _ARMED.update(token=token, at=at)
        return super().subject_of(args, kwargs)


@event.listens_for(Engine, "before_cursor_execute")
def _cut_bookkeeping(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    """Terminates this connection's backend just before the armed statement runs on it (as
    a PostgreSQL restart or `pg_terminate_backend` between checkout and query does), as
    many times as `test:cut:<token>` says."""
    at = _ARMED.get("at")
    if at is None or not statement.startswith("UPDATE attempts") or _CUT_AT[at] not in statement:
        return
    if int(runtime.redis_client().decr(f"test:cut:{_ARMED['token']}")) < 0:
        _ARMED.clear()
        return
    import psycopg

    pid = conn.connection.dbapi_connection.info.backend_pid
    plain = make_url(runtime.settings().database_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


@spocc_task("spocc.test.cut", queue="default", base=CutTask, max_retries=0)
def cut(self: Any, token: str, at: str) -> None:
    """Counts its runs; its bookkeeping's connection is cut under it (see `CutTask`)."""
    runtime.redis_client().incr(f"test:cut:{token}:runs")


@spocc_task("spocc.test.route", queue="default", base=TokenTask, max_retries=0)
def route(self: Any, token: str, holds: int, countdown: float,
          countdowns: list[float] | None = None) -> None:
    """Records the queue (routing key) and priority each run came with, and defers `holds`
    times for `countdown` seconds (the nth time for `countdowns[n]`, when given): a
    deferral must come back on the same tier."""
    client = runtime.redis_client()
    info = self.request.delivery_info or {}
    runs = int(client.rpush(f"test:route:{token}", json.dumps(
        [time.time(), info.get("routing_key"), info.get("priority")])))
    if runs <= holds:
        self.defer(countdowns[runs - 1] if countdowns else countdown,
                   f"test {token} comes back later")
