"""Per-process access to what every task, the receiver and the CLI need: settings, the
database, Redis, the secret box and each connection's configuration (re-read, never cached
across a `config apply`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis as redis_lib
from sqlalchemy.orm import Session

from schemas.config import ConnectionConfig
from schemas.secret import Secret
from store import config_store
from store.db import session_scope
from store.secrets import SecretBox, new_key
from workers.settings import Settings, load_settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def reset() -> None:
    """Forget cached settings and clients (tests change the environment between runs)."""
    settings.cache_clear()
    redis_client.cache_clear()
    secret_box.cache_clear()


@contextmanager
def db() -> Iterator[Session]:
    with session_scope(settings().database_url) as session:
        yield session


@lru_cache(maxsize=1)
def redis_client() -> redis_lib.Redis:
    url = settings().redis_url
    if url is None:
        raise RuntimeError("no Redis configured: set SPOCC_BROKER_URL or run `spocc up`")
    return redis_lib.Redis.from_url(url, socket_timeout=10, health_check_interval=30)


@lru_cache(maxsize=1)
def secret_box() -> SecretBox:
    s = settings()
    if s.secret_key is not None:
        return SecretBox(s.secret_key)
    # Embedded default only: a key file beside the SQLite database, readable by us alone.
    path = s.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key())
    return SecretBox(Secret(path.read_text().strip()))


def connection(connection_id: str) -> ConnectionConfig:
    with db() as session:
        return config_store.load(session, secret_box(), connection_id)
