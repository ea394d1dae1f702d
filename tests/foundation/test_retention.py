"""The reaper keeps every table within its retention setting: old attempt rows, settled dead
letters, expired keys, finished deliveries and closed runs (with their units) go; unfinished
work, what an open dead letter points at and each process's last success stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from store import dead_letters, idempotency
from store.catalogue_models import SyncUnit
from store.db import session_scope
from store.models import Attempt, DeadLetter, EventDelivery, IdempotencyKey, SyncRun, utcnow
from workers.settings import DAY, Retention


def test_reaper_removes_what_retention_allows_and_keeps_the_rest(spocc_env):
    from tasks.maintenance.reaper import reap

    url = spocc_env.database_url
    old = utcnow() - timedelta(days=31)
    tag = uuid.uuid4().hex
    with session_scope(url) as s:
        s.add_all([
            Attempt(task_id=f"{tag}-old", task_name="t", number=1, outcome="success",
                    started_at=old),
            Attempt(task_id=f"{tag}-new", task_name="t", number=1, outcome="success"),
        ])
        resolved = dead_letters.add(s, task_name="t", task_id=f"{tag}-r", queue="default",
                                    connection_id=None, args=[], kwargs={}, last_error="x",
                                    attempts=1)
        still_open = dead_letters.add(s, task_name="t", task_id=f"{tag}-o", queue="default",
                                      connection_id=None, args=[], kwargs={}, last_error="x",
                                      attempts=1)
        resolved.status, resolved.resolved_at = "resolved", old
        still_open.created_at = old
        idempotency.claim(s, "c", "x", f"{tag}-expired", "h", now=utcnow() - timedelta(hours=97))
        idempotency.claim(s, "c", "x", f"{tag}-live", "h")
    reap()
    with session_scope(url) as s:
        tasks = set(s.execute(select(Attempt.task_id).where(Attempt.task_id.like(f"{tag}%")))
                    .scalars())
        letters = set(s.execute(select(DeadLetter.task_id).where(
            DeadLetter.task_id.like(f"{tag}%"))).scalars())
        keys = set(s.execute(select(IdempotencyKey.key).where(
            IdempotencyKey.key.like(f"{tag}%"))).scalars())
    assert tasks == {f"{tag}-new"}
    assert letters == {f"{tag}-o"}
    assert keys == {f"{tag}-live"}


def _delivery(s, conn: str, status: str, age: timedelta, order_id: int) -> int:
    when = utcnow() - age
    row = EventDelivery(connection_id=conn, event_type="order-registered", order_id=order_id,
                        status=status, created_at=when, updated_at=when, payload={})
    s.add(row)
    s.flush()
    return row.id


def test_finished_deliveries_go_after_the_orders_days_unfinished_never(any_db_url):
    from tasks.maintenance.reaper import reap_tables

    conn = f"ret-{uuid.uuid4().hex[:8]}"
    days = Retention(order_state_seconds=10 * DAY)
    aged, fresh = timedelta(days=11), timedelta(days=9)
    with session_scope(any_db_url) as s:
        gone = {_delivery(s, conn, st, aged, n) for n, st in
                enumerate(("done", "refused", "blocked", "dead"))}
        kept = {_delivery(s, conn, st, aged, 10 + n) for n, st in
                enumerate(("pending", "running", "held", "failed"))}
        kept.add(_delivery(s, conn, "done", fresh, 20))
        pinned = _delivery(s, conn, "dead", aged, 21)  # its dead letter is still open
        dead_letters.add(s, task_name="spocc.orders.register", task_id=uuid.uuid4().hex,
                         queue="orders", connection_id=conn, args=[],
                         kwargs={"connection_id": conn, "delivery_id": pinned},
                         last_error="x", attempts=8)
        kept.add(pinned)
    removed = reap_tables(any_db_url, days)
    with session_scope(any_db_url) as s:
        left = set(s.execute(select(EventDelivery.id).where(
            EventDelivery.connection_id == conn)).scalars())
    assert left == kept
    assert removed["event_deliveries"] == len(gone)


def _run(s, conn: str, process: str, status: str, age: timedelta, units: int = 2,
         **options: object) -> int:
    when = utcnow() - age
    run = SyncRun(connection_id=conn, process=process, slot=uuid.uuid4().hex, status=status,
                  started_at=when, finished_at=None if status == "running" else when,
                  options=dict(options))
    s.add(run)
    s.flush()
    s.add_all([SyncUnit(run_id=run.id, connection_id=conn, seq=i, keys=["k"], detail={},
                        status="done" if status != "running" else "pending")
               for i in range(units)])
    s.flush()
    return run.id


def test_closed_runs_and_their_units_go_after_the_sync_runs_days(any_db_url):
    from tasks.maintenance.reaper import reap_tables

    conn = f"ret-{uuid.uuid4().hex[:8]}"
    days = Retention(sync_run_seconds=7 * DAY)
    with session_scope(any_db_url) as s:
        gone = {
            _run(s, conn, "stock_delta", "succeeded", timedelta(days=30)),
            _run(s, conn, "stock_delta", "failed", timedelta(days=20)),
            _run(s, conn, "stock_delta", "skipped", timedelta(days=20), units=0),
            _run(s, conn, "images", "succeeded", timedelta(days=9)),
            _run(s, conn, "stock_full", "succeeded", timedelta(days=10)),
        }
        kept = {
            # the latest success of each process, however old: where the next delta starts
            _run(s, conn, "stock_delta", "succeeded", timedelta(days=10)),
            _run(s, conn, "images", "succeeded", timedelta(days=8)),
            # a one-variation run is no delta's base: the older full success stays that
            _run(s, conn, "stock_full", "succeeded", timedelta(days=9)),
            _run(s, conn, "stock_full", "succeeded", timedelta(days=8), variation="X1"),
            _run(s, conn, "stock_delta", "running", timedelta(days=40)),  # unfinished
            _run(s, conn, "stock_delta", "failed", timedelta(days=6)),  # within the days
        }
        letter_run = _run(s, conn, "stock_delta", "failed", timedelta(days=20))
        dead_letters.add(s, task_name="spocc.catalogue.unit", task_id=uuid.uuid4().hex,
                         queue="catalogue", connection_id=conn, args=[conn, letter_run, 1],
                         kwargs={}, last_error="x", attempts=8)
        kept.add(letter_run)
    removed = reap_tables(any_db_url, days)
    with session_scope(any_db_url) as s:
        runs = set(s.execute(select(SyncRun.id).where(SyncRun.connection_id == conn)).scalars())
        unit_runs = set(s.execute(select(SyncUnit.run_id).where(
            SyncUnit.connection_id == conn)).scalars())
    assert runs == kept
    assert unit_runs == kept  # the units went with their runs, and only those
    assert removed["sync_runs"] == len(gone)


def test_the_reap_task_reads_the_sync_runs_days_setting(spocc_env, monkeypatch):
    from tasks.maintenance.reaper import reap
    from workers import runtime

    conn = f"ret-{uuid.uuid4().hex[:8]}"
    with session_scope(spocc_env.database_url) as s:
        _run(s, conn, "images", "succeeded", timedelta(days=1))  # the last success stays
        ten_days = _run(s, conn, "images", "failed", timedelta(days=10))
    monkeypatch.setenv("SPOCC_RETAIN_SYNC_RUNS_DAYS", "30")
    runtime.reset()
    try:
        reap()
        with session_scope(spocc_env.database_url) as s:
            assert s.get(SyncRun, ten_days) is not None
        monkeypatch.setenv("SPOCC_RETAIN_SYNC_RUNS_DAYS", "5")
        runtime.reset()
        reap()
        with session_scope(spocc_env.database_url) as s:
            assert s.get(SyncRun, ten_days) is None
    finally:
        monkeypatch.undo()
        runtime.reset()


def test_a_backlog_larger_than_a_batch_is_reaped_in_one_pass(any_db_url, monkeypatch):
    from tasks.maintenance import reaper

    monkeypatch.setattr(reaper, "BATCH", 7)
    conn = f"ret-{uuid.uuid4().hex[:8]}"
    with session_scope(any_db_url) as s:
        for n in range(30):
            _delivery(s, conn, "done", timedelta(days=200), n)
    removed = reaper.reap_tables(any_db_url, Retention())
    assert removed["event_deliveries"] == 30


def test_written_back_statuses_go_after_the_orders_days_pending_and_dead_stay(any_db_url):
    from store.order_models import OrderWriteback
    from tasks.maintenance.reaper import reap_tables

    conn = f"ret-{uuid.uuid4().hex[:8]}"
    days = Retention(order_state_seconds=10 * DAY)
    ids: dict[str, int] = {}
    with session_scope(any_db_url) as s:
        for n, (name, state, age) in enumerate((("old done", "done", 11), ("new done", "done", 9),
                                                ("old pending", "pending", 40),
                                                ("old dead", "dead", 40))):
            when = utcnow() - timedelta(days=age)
            row = OrderWriteback(connection_id=conn, plenty_order_id=n, state=state,
                                 created_at=when, updated_at=when)
            s.add(row)
            s.flush()
            ids[name] = row.id
    removed = reap_tables(any_db_url, days)
    with session_scope(any_db_url) as s:
        left = set(s.execute(select(OrderWriteback.id).where(
            OrderWriteback.connection_id == conn)).scalars())
    assert left == {ids["new done"], ids["old pending"], ids["old dead"]}
    assert removed["order_writebacks"] == 1


def test_an_open_dead_letters_attempts_stay_however_old(any_db_url):
    from tasks.maintenance.reaper import reap_tables

    tag = uuid.uuid4().hex
    old = utcnow() - timedelta(days=40)
    with session_scope(any_db_url) as s:
        for suffix in ("open", "replayed", "settled", "none"):
            s.add(Attempt(task_id=f"{tag}-{suffix}", task_name="t", number=1,
                          outcome="failure", started_at=old))
        s.add(Attempt(task_id=f"{tag}-replay", task_name="t", number=1, outcome="failure",
                      started_at=old))
        for suffix, status in (("open", "open"), ("replayed", "replayed"),
                               ("settled", "discarded")):
            letter = dead_letters.add(s, task_name="t", task_id=f"{tag}-{suffix}",
                                      queue="default", connection_id=None, args=[], kwargs={},
                                      last_error="x", attempts=1)
            letter.status = status
            if status == "replayed":
                letter.replay_task_id = f"{tag}-replay"
            if status == "discarded":
                letter.resolved_at = utcnow()
    reap_tables(any_db_url, Retention())
    with session_scope(any_db_url) as s:
        left = set(s.execute(select(Attempt.task_id).where(
            Attempt.task_id.like(f"{tag}%"))).scalars())
    # What the operator still has to decide on keeps its history (and its HTTP exchanges).
    assert left == {f"{tag}-open", f"{tag}-replayed", f"{tag}-replay"}
