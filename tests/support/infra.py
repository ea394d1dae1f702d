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
