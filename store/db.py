"""Engine and sessions. One engine per process and database URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


@lru_cache(maxsize=8)
def get_engine(url: str, pre_ping: bool = True) -> Engine:
    """`pre_ping=False` saves a round trip per checkout; its caller must handle a connection
    the database dropped (`DBAPIError.connection_invalidated`) by taking another."""
    engine = _create(url, pre_ping)
    _ENGINES.append(engine)
    return engine


_ENGINES: list[Engine] = []


def forget_inherited_connections() -> None:
    """In a process just forked: leave the parent's pooled connections to the parent (a
    connection used from two processes corrupts both), and open our own."""
    for engine in _ENGINES:
        engine.dispose(close=False)


def _create(url: str, pre_ping: bool) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=pre_ping, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # WAL lets the worker, beat and the receiver read while one of them writes.
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@lru_cache(maxsize=8)
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def session_factory(url: str) -> sessionmaker[Session]:
    return _factory(url)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def database_blip(exc: BaseException) -> bool:
    """The database connection broke under the task (terminated, restarted): not the
    work's fault, so it is sent again rather than dead-lettered."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError | InterfaceError) or (
                isinstance(seen, DBAPIError) and seen.connection_invalidated):
            return True
        seen = seen.__cause__
    return False


# Pauses before the second and third try: together longer than a connection takes to be
# replaced, far shorter than a task's time limit.
_BLIP_PAUSES = (0.2, 0.8)


def blip_proof(url: str, work: Callable[[Session], T]) -> T:
    """`work` in a unit of work of its own, tried again on a fresh connection when the
    database dropped the one it had (terminated, restarted, between checkout and query):
    for bookkeeping whose loss a caller would take for the work's failure. Each try is one
    transaction, so a failed try leaves nothing behind; the last try's error is raised."""
    for pause in _BLIP_PAUSES:
        try:
            with session_scope(url) as session:
                return work(session)
        except Exception as exc:
            if not database_blip(exc):
                raise
        time.sleep(pause)
    with session_scope(url) as session:
        return work(session)


def insert_for(session: Session) -> Any:
    """The dialect's INSERT (it has ON CONFLICT DO NOTHING) for the session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
