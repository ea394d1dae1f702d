"""Private PostgreSQL databases and Redis databases for one test session.

Several test runs may share this machine's PostgreSQL and Redis (developers, CI); each run
gets its own database and its own Redis db number, so none sees another's queues or rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

PG_ADMIN = os.environ.get("SPOCC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST = os.environ.get("SPOCC_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("SPOCC_TEST_REDIS_PORT", "6379"))


@contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """These environment variables set (None: unset) for the block, then as they were."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            _put(k, v)
        yield
    finally:
        for k, v in saved.items():
            _put(k, v)


def _put(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


@contextmanager
def private_postgres() -> Iterator[str]:
    """A new empty database; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"spocc_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        from store.db import get_engine

        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_redis_db() -> Iterator[int]:
    """A Redis db number (1-15) no other test run holds; flushed before and after."""
    token = uuid.uuid4().hex
    for db in range(1, 16):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        if client.set("spocc:test:owner", token, nx=True, ex=3 * 3600):
            try:
                client.flushdb()
                client.set("spocc:test:owner", token, ex=3 * 3600)
                yield db
            finally:
                client.flushdb()
            return
    raise RuntimeError("every Redis db 1-15 is held by another test run")


def redis_url(db: int) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


RABBITMQ = os.environ.get("SPOCC_TEST_RABBITMQ", "127.0.0.1:5672")


@contextmanager
def private_rabbitmq_vhost() -> Iterator[str]:
    """A new RabbitMQ virtual host for guest; yields its broker URL and deletes it (with
    every queue in it) afterwards."""
    import subprocess

    name = f"spocc_t_{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*",
                    ".*"], check=True, timeout=60)
    try:
        yield f"amqp://guest:guest@{RABBITMQ}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, timeout=60)


def rabbitmq_queues(url: str) -> dict[str, int]:
    """Each queue of the URL's virtual host, with the messages ready in it."""
    import subprocess

    vhost = url.rsplit("/", 1)[1]
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers",
                          "name", "messages_ready"], check=True, timeout=60,
                         capture_output=True, text=True).stdout
    return {name: int(n) for name, n in (line.split() for line in out.splitlines() if line)}


def purge_rabbitmq(url: str) -> None:
    """Every message ready in the virtual host gone, as a broker that lost its disk."""
    import subprocess

    vhost = url.rsplit("/", 1)[1]
    for name in rabbitmq_queues(url):
        subprocess.run(["rabbitmqctl", "-q", "purge_queue", "-p", vhost, name], check=True,
                       timeout=60)
