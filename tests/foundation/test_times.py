"""Every stored moment is aware UTC, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, func, select
from sqlalchemy.exc import StatementError

from store import catalogue_models, order_models
from store.db import session_scope
from store.models import Base, SyncRun
from store.types import UtcDateTime

BERLIN_SUMMER = timezone(timedelta(hours=2))


def test_every_time_column_of_every_model_is_utc_datetime() -> None:
    tables = {catalogue_models.SyncUnit.__tablename__, order_models.OrderState.__tablename__}
    assert tables <= set(Base.metadata.tables)
    utc = [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UtcDateTime)
    ]
    assert {c.table.name for c in utc} >= tables | {"attempts", "dead_letters", "sync_runs"}
    plain = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, DateTime)
    ]
    assert plain == []


def test_a_stored_time_comes_back_aware_utc_and_the_same_moment(any_db_url: str) -> None:
    moment = datetime(2026, 7, 1, 14, 30, 5, 123456, tzinfo=BERLIN_SUMMER)
    with session_scope(any_db_url) as s:
        run = SyncRun(connection_id="times", process="stock_full", slot=uuid.uuid4().hex,
                      started_at=moment, finished_at=moment + timedelta(minutes=5))
        s.add(run)
        s.flush()
        run_id = run.id
    with session_scope(any_db_url) as s:
        row = s.get_one(SyncRun, run_id)
        assert row.started_at.tzinfo is UTC
        assert row.started_at == moment
        assert row.started_at.hour == 12
        assert row.finished_at is not None and row.finished_at - row.started_at == timedelta(
            minutes=5
        )
        # an aggregate keeps the column's type, so it is aware too
        latest = s.execute(
            select(func.max(SyncRun.finished_at)).where(SyncRun.id == run_id)
        ).scalar_one()
        assert latest == moment + timedelta(minutes=5) and latest.tzinfo is UTC
        # comparisons in SQL compare moments, whatever offset the bound value has
        found = s.execute(
            select(SyncRun.id).where(
                SyncRun.id == run_id,
                SyncRun.started_at > datetime(2026, 7, 1, 12, 30, 4, tzinfo=UTC),
                SyncRun.started_at < datetime(2026, 7, 1, 14, 30, 6, tzinfo=BERLIN_SUMMER),
            )
        ).scalar_one_or_none()
        assert found == run_id


def test_a_naive_time_is_refused_not_guessed(any_db_url: str) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with session_scope(any_db_url) as s:
            s.add(SyncRun(connection_id="times", process="stock_full", slot=uuid.uuid4().hex,
                          started_at=datetime(2026, 7, 1, 14, 30)))
            s.flush()
