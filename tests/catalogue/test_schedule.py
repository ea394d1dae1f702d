"""The tick: clock-aligned slots, each claimed once, pauses and interval changes at once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.models import Connection, SyncRun
from tasks.catalogue import schedule
from tasks.catalogue.slots import offset_minutes, slot_key, slot_start
from tests.catalogue.conftest import apply_connection, only
from tests.conftest import ON_BOTH_DATABASES, SpoccEnv, connection_document
from workers import runtime

T0 = datetime(2026, 11, 23, 10, 7, 30, tzinfo=UTC)


def runs_of(conn_id: str) -> list[SyncRun]:
    with runtime.db() as session:
        return list(
            session.execute(
                select(SyncRun).where(SyncRun.connection_id == conn_id).order_by(SyncRun.id)
            ).scalars()
        )


def test_slots_are_aligned_to_the_utc_clock_not_to_beat_start() -> None:
    assert slot_start(T0, 15) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert slot_start(T0, 20) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert slot_start(T0, 1440) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert slot_start(datetime(2026, 11, 23, 10, 44, 59, tzinfo=UTC), 15).minute == 30
    assert slot_key(T0, 15) == "2026-11-23T10:00Z/15m"
    # an interval that does not divide the day still gives every beat the same slot
    assert slot_start(T0, 7) == slot_start(T0.replace(second=59), 7)


def test_each_connection_starts_its_slots_at_a_stable_offset_so_many_do_not_start_together(
) -> None:
    """1,000 connections with a 15-minute delta and an hourly job: spread over the interval
    (a daily one over its first hour), each always at the same offset."""
    from tasks.catalogue.slots import SPREAD_MINUTES

    ids = [f"shop-{n}" for n in range(1000)]
    for interval in (15, 60, 1440):
        starts = Counter(slot_start(T0, interval, offset_minutes(c, interval)).minute
                         for c in ids)
        span = min(interval, SPREAD_MINUTES)
        assert len(starts) == span  # every minute of the spread is used
        assert max(starts.values()) <= 2.0 * len(ids) / span, starts.most_common(3)
    for c in ids[:50]:
        offset = offset_minutes(c, 15)
        assert offset == offset_minutes(c, 15) and 0 <= offset < 15
        start = slot_start(T0, 15, offset)
        assert start <= T0 < start + timedelta(minutes=15)
        assert (start.minute - offset) % 15 == 0
        assert slot_key(T0, 15, offset).endswith("/15m")


def test_two_beats_ticking_at_once_start_each_slot_once(
    make_connection: Callable[..., str],
) -> None:
    conn_id = make_connection(processes=only("stock_delta", "attributes", "order_status"))
    started: list[schedule.Started] = []
    barrier = threading.Barrier(4)

    def beat() -> None:
        barrier.wait()
        started.extend(schedule.tick(T0))

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    mine = [s for s in started if s.connection_id == conn_id]
    assert sorted(s.process for s in mine) == ["attributes", "order_status", "stock_delta"]
    slots = Counter((r.process, r.slot) for r in runs_of(conn_id))
    assert set(slots.values()) == {1}
    order = next(s for s in mine if s.process == "order_status")
    assert (order.task, order.queue) == ("spocc.orders.status_poll", "orders")


@ON_BOTH_DATABASES
def test_a_second_tick_in_the_same_minute_reads_the_claimed_slots_and_inserts_nothing(
    make_connection: Callable[..., str],
) -> None:
    from workers import runtime

    conn_id = make_connection(processes=only("stock_delta", "attributes"))
    assert len([s for s in schedule.tick(T0) if s.connection_id == conn_id]) == 2
    assert [s for s in schedule.tick(T0 + timedelta(seconds=20))
            if s.connection_id == conn_id] == []
    claimed = [(conn_id, r.process, r.slot) for r in runs_of(conn_id)]
    assert len(claimed) == 2
    with runtime.db() as session:  # one indexed read answers for every slot of the minute
        assert schedule._claimed(session, [*claimed, (conn_id, "images", "never")],
                                 chunk=1) == set(claimed)


@ON_BOTH_DATABASES
def test_a_slot_whose_previous_run_is_open_is_recorded_as_skipped(
    make_connection: Callable[..., str],
) -> None:
    conn_id = make_connection(processes=only("stock_delta"))
    first = [s for s in schedule.tick(T0) if s.connection_id == conn_id]
    assert len(first) == 1
    later = T0 + timedelta(minutes=15)  # the next slot, whatever the connection's offset
    assert [s for s in schedule.tick(later) if s.connection_id == conn_id] == []
    rows = runs_of(conn_id)
    offset = offset_minutes(conn_id, 15)
    assert [(r.slot, r.status) for r in rows] == [
        (slot_key(T0, 15, offset), "running"),
        (slot_key(later, 15, offset), "skipped"),
    ]
    assert rows[1].reason is not None and f"previous run {rows[0].id}" in rows[1].reason


@ON_BOTH_DATABASES
def test_the_batched_claim_leaves_out_a_slot_another_beat_inserted_first(
    make_connection: Callable[..., str],
) -> None:
    """Between the tick's read of the claimed slots and its INSERT another beat may claim
    one: that slot is left to it, the rest are claimed, and each run's fields are a beat
    run's (the batch writes them in one statement on PostgreSQL, row by row on SQLite)."""
    from tasks.catalogue import claims

    conn_id = make_connection(processes=only("stock_delta", "attributes", "images"))
    with runtime.db() as session:
        session.add(SyncRun(connection_id=conn_id, process="attributes", slot="s-1"))
    with runtime.db() as session:
        claimed = claims.claim_scheduled(session, [(conn_id, "stock_delta", "s-1"),
                                                 (conn_id, "attributes", "s-1"),
                                                 (conn_id, "images", "s-1")], chunk=2)
    assert sorted((c.process, c.status) for c in claimed) == [
        ("images", "running"), ("stock_delta", "running")]
    rows = {r.process: r for r in runs_of(conn_id)}
    assert len(rows) == 3 and {r.slot for r in rows.values()} == {"s-1"}
    delta = rows["stock_delta"]
    assert (delta.trigger, delta.options, delta.pushed, delta.planned) == ("beat", {}, 0, False)
    assert delta.planner_until is not None and delta.planner_until.tzinfo is not None
    assert delta.finished_at is None and delta.reason is None
    assert next(c for c in claimed if c.process == "stock_delta").run_id == delta.id


def test_interval_change_and_process_switch_take_effect_at_the_next_tick(
    spocc_env: SpoccEnv, make_connection: Callable[..., str]
) -> None:
    conn_id = make_connection(processes=only("stock_delta"))
    schedule.tick(T0)
    doc = connection_document(
        conn_id,
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        processes=only("attributes", attributes=5),
    )
    apply_connection(spocc_env, doc)
    started = [s for s in schedule.tick(T0) if s.connection_id == conn_id]
    assert [(s.process) for s in started] == ["attributes"]
    assert runs_of(conn_id)[-1].slot == slot_key(T0, 5, offset_minutes(conn_id, 5))


def test_a_paused_connection_or_process_schedules_nothing(
    make_connection: Callable[..., str],
) -> None:
    conn_id = make_connection(processes=only("stock_delta", "attributes"))
    with runtime.db() as session:
        session.get_one(Connection, conn_id).paused = True
    assert [s for s in schedule.tick(T0) if s.connection_id == conn_id] == []
    with runtime.db() as session:
        row = session.get_one(Connection, conn_id)
        row.paused = False
        row.paused_processes = ["stock_delta"]
    started = [s.process for s in schedule.tick(T0) if s.connection_id == conn_id]
    assert started == ["attributes"]


def test_a_connection_whose_secrets_do_not_open_does_not_stop_the_others(
    spocc_env: SpoccEnv, make_connection: Callable[..., str],
) -> None:
    """One retailer's configuration under another SPOCC_SECRET_KEY must not leave every
    other retailer unscheduled."""
    from sqlalchemy import delete

    from schemas.secret import Secret
    from store import config_store
    from store.models import ConnectionSecret
    from store.operator_models import ConfigRevision
    from store.secrets import SecretBox, new_key

    good = make_connection(processes=only("stock_delta"))
    broken = f"c-{uuid.uuid4().hex[:8]}"
    doc = connection_document(broken, "http://127.0.0.1:9", "http://127.0.0.1:9",
                              processes=only("stock_delta"))
    with runtime.db() as session:
        config_store.apply(session, SecretBox(Secret(new_key())), doc)
    try:
        started = {s.connection_id for s in schedule.tick(T0)}
        assert good in started and broken not in started
    finally:  # other tests read every connection of this database
        with runtime.db() as session:
            for model in (ConnectionSecret, ConfigRevision, Connection):
                column = model.id if model is Connection else model.connection_id
                session.execute(delete(model).where(column == broken))


@ON_BOTH_DATABASES
def test_sweeper_closes_finished_runs_and_finds_lost_units(
    make_connection: Callable[..., str],
) -> None:
    from datetime import timedelta

    from store.catalogue_models import SyncUnit
    from tasks.catalogue import claims

    conn_id = make_connection(processes=only())
    with runtime.db() as session:
        done = claims.claim_slot(session, conn_id, "stock_full", "a")
        lost = claims.claim_slot(session, conn_id, "stock_delta", "b")
        assert done is not None and lost is not None
        done.planned = True
        session.add(
            SyncUnit(
                run_id=done.id, connection_id=conn_id, seq=1, keys=["x"], status="done", detail={}
            )
        )
        lost.planned = True
        session.add(SyncUnit(run_id=lost.id, connection_id=conn_id, seq=1, keys=["y"], detail={}))
        done_id, lost_id = done.id, lost.id
    later = datetime.now(UTC) + timedelta(minutes=30)
    report = schedule.sweep(timedelta(hours=20), now=later)
    assert [r for _c, r, _u in report.units_resent] == [lost_id]
    statuses = {r.id: r.status for r in runs_of(conn_id)}
    assert statuses == {done_id: "succeeded", lost_id: "running"}
    # a run past its time limit is closed as timed out
    schedule.sweep(timedelta(minutes=1), now=later)
    assert {r.id: r.status for r in runs_of(conn_id)}[lost_id] == "timed_out"
