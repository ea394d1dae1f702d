"""Per-process access to what every task, the receiver and the CLI need: settings, the
database, Redis, the secret box and each connection's configuration (the one cache of it,
keyed by the connection's revision, so a `config apply` takes effect at the next read)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import redis as redis_lib
from sqlalchemy import Connection as SqlConnection
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from schemas.config import ConnectionConfig
from schemas.secret import Secret
from store import config_store
from store.db import blip_proof, get_engine, session_scope
from store.models import Connection
from store.secrets import SecretBox, new_key
from workers.settings import Settings, load_settings

T = TypeVar("T")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def reset() -> None:
    """Forget cached settings and clients (tests change the environment between runs)."""
    settings.cache_clear()
    redis_client.cache_clear()
    secret_box.cache_clear()
    with _configs_lock:
        _configs.clear()


@contextmanager
def db() -> Iterator[Session]:
    with session_scope(settings().database_url) as session:
        yield session


def db_blip_proof(work: Callable[[Session], T]) -> T:
    """`work` in a unit of work of its own, tried again when the database dropped its
    connection (`store.db.blip_proof`)."""
    return blip_proof(settings().database_url, work)


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


_REVISION = select(Connection.revision).where(Connection.id == bindparam("id"))


def _known(connection_id: str, revision: int | None) -> int:
    if revision is None:
        raise config_store.UnknownConnection(connection_id)
    return revision


def _cached(connection_id: str, revision: int) -> ConnectionConfig | None:
    cached = _configs.get(connection_id)
    return cached[1] if cached is not None and cached[0] == revision else None


# Only stored connections enter it (an unknown id raises first), so it stays as small as the
# connections table; frozen configurations can be shared by every thread of the process.
_configs: dict[str, tuple[int, ConnectionConfig]] = {}
_configs_lock = threading.Lock()


def connection(connection_id: str, session: Session | SqlConnection | None = None,
               revision: int | None = None) -> ConnectionConfig:
    """The connection's configuration: one primary-key read of its revision per call, and
    the document is decrypted and validated again only when that revision changed.

    Pass `session` (an ORM session or a Core connection) to read within a caller's
    transaction (no second connection); a Core connection's caller gets a document that
    must be loaded from a session of its own (rare: after a `config apply`). A caller that
    has just read the connection's row passes its `revision`: nothing is read again."""
    if session is None:
        # The receiver's case when the document is cached: one autocommit statement, no ORM
        # session and no BEGIN/COMMIT round trips.
        engine = get_engine(settings().database_url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as core:
            return connection(connection_id, core)
    if revision is None:
        revision = _known(connection_id, session.execute(
            _REVISION, {"id": connection_id}).scalar_one_or_none())
    cached = _cached(connection_id, revision)
    if cached is not None:
        return cached
    if isinstance(session, SqlConnection):  # the document is loaded through the ORM
        with db() as own:
            return connection(connection_id, own)
    # An apply committed between the two reads stamps the newer document with the older
    # revision: the next call sees the revision differ and loads once more. Never staler.
    config = config_store.load(session, secret_box(), connection_id)
    with _configs_lock:
        _configs[connection_id] = (revision, config)
    return config
