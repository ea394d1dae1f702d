"""Fixtures for tests that run the connector on the real services.

`spocc_env` gives a test session its own PostgreSQL database (migrated) and its own Redis db,
and points the connector's settings at them; `worker_factory` starts real `spocc worker`
processes against them. A test marked `@ON_BOTH_DATABASES` runs twice: on that PostgreSQL
database and on a SQLite file database (the embedded default), workers included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.infra import (
    environ,
    private_postgres,
    private_rabbitmq_vhost,
    private_redis_db,
    redis_url,
)
from tests.support.processes import SpoccProcess

# The CLI's tables and messages wrap at the terminal's width, which tests read in full: one
# width for every run. pytest-xdist's workers export COLUMNS=80, and a line cut there hid
# the text a test looked for.
os.environ["COLUMNS"] = "200"
os.environ.pop("LINES", None)


@dataclass
class SpoccEnv:
    """The environment every process of a test sees. `db_backend` switches it to SQLite for
    one test, in place, so fixtures holding this object follow."""

    database_url: str
    redis_url: str
    data_dir: Path
    env: dict[str, str]
    backend: str = "postgresql"


# Runs a test on PostgreSQL and on SQLite: time, lock and transaction behaviour differ.
ON_BOTH_DATABASES = pytest.mark.parametrize(
    "db_backend", ["postgresql", "sqlite"], indirect=True
)


@pytest.fixture(scope="session")
def spocc_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpoccEnv]:
    from store.migrate import upgrade
    from store.secrets import new_key

    data_dir = tmp_path_factory.mktemp("spocc")
    with private_postgres() as db_url, private_redis_db() as db:
        r_url = redis_url(db)
        overrides = {
            "SPOCC_DATABASE_URL": db_url,
            "SPOCC_BROKER_URL": r_url,
            "SPOCC_REDIS_URL": r_url,
            "SPOCC_DATA_DIR": str(data_dir),
            "SPOCC_SECRET_KEY": new_key(),
            # Seconds, not an hour: a killed worker's message comes back within the test.
            "SPOCC_VISIBILITY_TIMEOUT": "8",
            "SPOCC_UNACKED_RESTORE_INTERVAL": "1",
            "SPOCC_TASK_SOFT_TIME_LIMIT": "60",
            "SPOCC_TASK_TIME_LIMIT": "90",
            "SPOCC_EXTRA_TASK_MODULES": "tests.support.tasks",
        }
        try:
            with environ(**overrides):
                _reload()
                upgrade(db_url)
                yield SpoccEnv(db_url, r_url, data_dir, dict(os.environ))
        finally:
            _reload()


def _reload() -> None:
    from workers import runtime

    runtime.reset()
    from workers import celery_app

    celery_app.reconfigure()


@pytest.fixture(scope="module", autouse=True)
def _connections_removed_after_the_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """Connections a module stored are removed after it, rows and Redis keys, the way an
    operator removes one. Beat's tick and the sweepers act on every stored connection: ones
    left by earlier modules, their sandboxes gone, kept later tests' order workers busy
    with doomed status polls and resends (a killed delivery took over 120 s to come back)."""
    if not any("spocc_env" in item.fixturenames for item in request.session.items
               if item.module is request.module):
        yield
        return
    env: SpoccEnv = request.getfixturevalue("spocc_env")
    urls = [env.database_url, f"sqlite:///{env.data_dir / 'sqlite' / 'spocc.db'}"]
    before = {url: _connection_ids(url) for url in urls}
    yield
    import redis

    from store import config_store
    from store.db import session_scope
    from workers.purge import forget_in_redis

    removed: list[str] = []
    for url in urls:
        left = sorted(_connection_ids(url) - before[url])
        with session_scope(url) as session:
            for conn_id in left:
                config_store.remove(session, conn_id, "tests", "the module that made it ended")
        removed += left
    if removed:
        client = redis.Redis.from_url(env.redis_url)
        forget_in_redis(client, removed)
        client.close()


def _connection_ids(url: str) -> set[str]:
    from sqlalchemy import select

    from store.db import session_scope
    from store.models import Connection

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return set()
    with session_scope(url) as session:
        return set(session.execute(select(Connection.id)).scalars())


@pytest.fixture(scope="session")
def sqlite_url(spocc_env: SpoccEnv) -> str:
    """One migrated SQLite file database for the session's SQLite runs."""
    from store.migrate import upgrade

    url = f"sqlite:///{spocc_env.data_dir / 'sqlite' / 'spocc.db'}"
    upgrade(url)
    return url


@pytest.fixture
def db_backend(request: pytest.FixtureRequest, spocc_env: SpoccEnv) -> Iterator[str]:
    """PostgreSQL unless parametrized (`ON_BOTH_DATABASES`); "sqlite" points the session's
    environment, this process and the workers started for the test at the SQLite file."""
    backend = getattr(request, "param", "postgresql")
    if backend == "postgresql":
        yield backend
        return
    url = request.getfixturevalue("sqlite_url")
    saved = spocc_env.database_url
    _switch(spocc_env, url, backend)
    try:
        yield backend
    finally:
        _switch(spocc_env, saved, "postgresql")


def _switch(spocc_env: SpoccEnv, database_url: str, backend: str) -> None:
    # Row ids mean other rows in the other database: work queued by the previous test must
    # not reach this one's workers.
    _drop_queued_work(spocc_env.redis_url)
    spocc_env.database_url, spocc_env.backend = database_url, backend
    spocc_env.env["SPOCC_DATABASE_URL"] = database_url
    os.environ["SPOCC_DATABASE_URL"] = database_url
    _reload()


def _drop_queued_work(url: str) -> None:
    import redis

    from workers.celery_app import TASK_QUEUES

    client = redis.Redis.from_url(url)
    queues = {*TASK_QUEUES.values(), "orders", "catalogue", "default"}
    doomed = [
        key
        for key in client.scan_iter(count=1000)
        if key.startswith(b"unacked")
        or key.decode(errors="replace").split("\x06")[0] in queues
    ]
    if doomed:
        client.delete(*doomed)
    client.close()


@pytest.fixture
def broker_backend(request: pytest.FixtureRequest, spocc_env: SpoccEnv) -> Iterator[str]:
    """Redis unless parametrized (`ON_BOTH_BROKERS`); "rabbitmq" points the session's
    environment, this process and the workers and receiver started for the test at a
    RabbitMQ virtual host of the test's own (Redis stays for the rest)."""
    backend = getattr(request, "param", "redis")
    if backend == "redis":
        yield backend
        return
    saved = spocc_env.env["SPOCC_BROKER_URL"]
    with private_rabbitmq_vhost() as url:
        spocc_env.env["SPOCC_BROKER_URL"] = url
        try:
            with environ(SPOCC_BROKER_URL=url):
                _reload()
                yield backend
        finally:
            spocc_env.env["SPOCC_BROKER_URL"] = saved
            _reload()


ON_BOTH_BROKERS = pytest.mark.parametrize("broker_backend", ["redis", "rabbitmq"],
                                          indirect=True)


@pytest.fixture
def worker_factory(
    spocc_env: SpoccEnv, db_backend: str, broker_backend: str, tmp_path: Path
) -> Iterator[Callable[..., SpoccProcess]]:
    # What earlier tests left queued (their sweeps' resends, retries of their connections)
    # would keep this test's workers busy first.
    _drop_queued_work(spocc_env.redis_url)
    started: list[SpoccProcess] = []

    def start(
        queues: str = "orders,catalogue,default",
        concurrency: int = 2,
        name: str = "worker",
        **env: str,
    ) -> SpoccProcess:
        proc_env = {**spocc_env.env, **env}
        proc = SpoccProcess(
            [
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-n",
                f"{name}-{len(started)}@%h",
                "--loglevel",
                "INFO",
            ],
            proc_env,
            tmp_path,
            f"{name}-{len(started)}",
        ).start()
        started.append(proc)
        proc.wait_for_log("ready.", timeout=60)
        return proc

    yield start
    for proc in started:
        proc.stop()


@dataclass
class Sandboxes:
    """Both sandboxes on real sockets: `.plenty` (BackgroundServer), `.spocc` (RunningSpocc)."""

    plenty: Any
    spocc: Any

    @property
    def plenty_url(self) -> str:
        return str(self.plenty.url)

    @property
    def spocc_url(self) -> str:
        return str(self.spocc.url)


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest) -> Iterator[Sandboxes]:
    """Fresh sandboxes; `@pytest.mark.catalogue(variations=N, plenty_variations=M, plan=…)`
    sizes the SPoCC catalogue and pre-seeds PlentyONE with the first M of it."""
    from sandboxes.plentyone.runner import start_background
    from sandboxes.spocc.runner import start as start_spocc

    marker = request.node.get_closest_marker("catalogue")
    opts = dict(marker.kwargs) if marker else {}
    variations = int(opts.pop("variations", 200))
    plenty = start_background(variations=int(opts.pop("plenty_variations", 0)),
                              plan=opts.pop("plan", "off"), **opts)
    spocc = start_spocc(variations=variations)
    try:
        yield Sandboxes(plenty, spocc)
    finally:
        spocc.stop()
        plenty.shutdown()


DEMO_CONNECTION = Path(__file__).resolve().parents[1] / "cli" / "demo_connection.yaml"


def connection_document(conn_id: str, plenty_url: str, spocc_url: str,
                        **changes: Any) -> dict[str, Any]:
    """The demo connection, renamed and pointed at the given sandboxes."""
    import yaml

    doc = yaml.safe_load(DEMO_CONNECTION.read_text())
    conn = doc["connections"][0]
    conn.update(id=conn_id, name=conn_id)
    conn["plentyone"]["base_url"] = plenty_url
    conn["spocc"]["base_url"] = spocc_url
    for key, value in changes.items():
        conn[key] = value
    return dict(doc)


@pytest.fixture
def connection(spocc_env: SpoccEnv, db_backend: str, sandboxes: Sandboxes) -> Any:
    """A connection (unique id per test) stored in the database, against fresh sandboxes."""
    import uuid

    from store import config_store
    from store.db import session_scope
    from workers import runtime

    conn_id = f"t-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, sandboxes.plenty_url, sandboxes.spocc_url)
    with session_scope(spocc_env.database_url) as session:
        config_store.apply(session, runtime.secret_box(), doc)
    return runtime.connection(conn_id)


def rows_of_a_connection(cid: str, order_id: int) -> list[Any]:
    """One row of each kind a connection leaves: a delivery, an idempotency key, a sync run
    and a dead letter (for the tests that reset or remove connections)."""
    from datetime import timedelta

    from store.models import DeadLetter, EventDelivery, IdempotencyKey, SyncRun, utcnow

    return [
        EventDelivery(connection_id=cid, event_type="order-registered", order_id=order_id),
        IdempotencyKey(connection_id=cid, scope="order", key=str(order_id), request_hash="h",
                       expires_at=utcnow() + timedelta(hours=96)),
        SyncRun(connection_id=cid, process="stock_full", slot="s/1440m"),
        DeadLetter(connection_id=cid, task_name="t", task_id="i", queue="orders",
                   last_error="e", attempts=1),
    ]
