"""Fair shares between connections (issue 10 item 2): each connection runs at most
`share.concurrency` units at once and keeps at most `share.queued` waiting in the queue, so a
connection with a few units is not served after all of another's hundreds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from store.catalogue_models import SyncUnit
from store.models import utcnow
from tasks.catalogue import control, leases, runs
from tests.catalogue.conftest import only
from tests.catalogue.support import run_row, sandbox_pair, start_run, wait_run
from tests.conftest import ON_BOTH_DATABASES, Sandboxes
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime


def _units(conn_id: str, process: str, n: int) -> list[int]:
    with runtime.db() as session:
        run = control.start_run(session, conn_id, process)
        fresh = runs.add_units(session, run, [(seq, [str(seq)]) for seq in range(n)])
        return [u.id for u in fresh]


def _claim(unit_id: int, cap: int) -> str:
    with runtime.db() as session:
        _unit, outcome = leases.claim_unit(session, unit_id, leases.new_owner("t"), cap)
        return outcome


@ON_BOTH_DATABASES
def test_a_connection_runs_at_most_its_share_of_units(
        make_connection: Callable[..., str]) -> None:
    mine = make_connection(processes=only())
    theirs = make_connection(processes=only())
    first, second, third = _units(mine, "images", 3)
    [other] = _units(theirs, "images", 1)

    assert _claim(first, 2) == "claimed"
    assert _claim(second, 2) == "claimed"
    assert _claim(third, 2) == "busy"  # not started, still pending: its message comes back
    assert _claim(other, 2) == "claimed"  # another connection's share is its own
    with runtime.db() as session:
        assert session.get_one(SyncUnit, third).status == "pending"
        # the first unit's worker died: its lease ran out, it no longer takes a place
        session.execute(update(SyncUnit).where(SyncUnit.id == first).values(
            lease_until=utcnow() - timedelta(seconds=1)))
    assert _claim(third, 2) == "claimed"


@ON_BOTH_DATABASES
def test_claims_at_the_same_moment_never_exceed_the_share(
        make_connection: Callable[..., str]) -> None:
    conn = make_connection(processes=only())
    unit_ids = _units(conn, "images", 8)
    outcomes: list[str] = []
    gate = threading.Barrier(len(unit_ids))

    def claim(unit_id: int) -> None:
        gate.wait()
        outcomes.append(_claim(unit_id, 3))

    threads = [threading.Thread(target=claim, args=(u,)) for u in unit_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["busy"] * 5 + ["claimed"] * 3
    with runtime.db() as session:
        running = session.execute(select(func.count()).select_from(SyncUnit).where(
            SyncUnit.connection_id == conn, SyncUnit.status == "running")).scalar_one()
    assert running == 3


@pytest.fixture
def small_pair() -> Iterator[tuple[str, str]]:
    with sandbox_pair(500) as pair:
        yield pair


def _done(run_id: int) -> int:
    with runtime.db() as session:
        return int(session.execute(select(func.count()).select_from(SyncUnit).where(
            SyncUnit.run_id == run_id, SyncUnit.status == "done")).scalar_one())


@pytest.mark.catalogue(variations=10_000, plenty_variations=10_000)
def test_a_small_run_is_not_served_after_all_of_a_big_ones_units(
    sandboxes: Sandboxes,
    small_pair: tuple[str, str],
    make_connection: Callable[..., str],
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    """A's full run has 20 units of 500 variations; B's has one. Both on one worker process.
    Before, A's planner queued all 20 at once and B's run went after every one of them."""
    big = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                          share={"queued": 1})
    small = make_connection(*small_pair, processes=only())
    requests.post(f"{sandboxes.plenty_url}/__admin/faults", json={"seed": 1, "rules": [
        {"kind": "slow", "delay": 0.1, "methods": ["POST", "PUT"], "path": "/rest/"}]},
        timeout=10).raise_for_status()
    worker_factory(queues="catalogue,default", concurrency=1)

    a = start_run(big, "stock_full")
    wait_until(lambda: _done(a) >= 1, 180, "A's first unit")
    b = wait_run(start_run(small, "stock_full"), 180)
    done_by_then = _done(a)
    assert b.status == "succeeded", b.reason
    # B waited behind A's share (1 queued, plus the rest of the page its planner was on:
    # 2 units a page) and A's planner top-ups meanwhile, not behind A's whole run
    assert done_by_then <= 10, f"{done_by_then} of A's 20 units went before B's one"
    assert run_row(a).status == "running"
    assert wait_run(a, 300).status == "succeeded"


def _pending(conn_id: str) -> int:
    with runtime.db() as session:
        return int(session.execute(select(func.count()).select_from(SyncUnit).where(
            SyncUnit.connection_id == conn_id, SyncUnit.status == "pending")).scalar_one())


@ON_BOTH_DATABASES
@pytest.mark.catalogue(variations=8_000, plenty_variations=8_000)
def test_a_connection_queues_its_fair_part_of_its_share_while_others_wait(
        sandboxes: Sandboxes, make_connection: Callable[..., str]) -> None:
    """Round-robin between connections, through the queue: while 5 other connections wait
    (2 with units queued, 3 whose planners have not yet planned any), one with
    `share.queued` 12 keeps 12 // 6 = 2 of its own waiting, so the FIFO alternates between
    them; alone again, it keeps its whole share. Before, it kept 12 waiting beside their
    one each."""
    from store.models import SyncRun
    from tasks.catalogue.planner import plan_slice

    heavy = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                            share={"queued": 12})
    queued = [make_connection(processes=only()) for _ in range(2)]
    planning = [make_connection(processes=only()) for _ in range(3)]
    for other in queued:
        _units(other, "stock_delta", 1)  # a more urgent tier: it counts against the share
    with runtime.db() as session:
        for other in planning:
            control.start_run(session, other, "stock_full")
        run_id = control.start_run(session, heavy, "stock_full").id

    assert plan_slice(heavy, run_id, lambda *_: None) is False
    # one page of the planner adds 2 units: it stops at the first check past its part
    assert 2 <= _pending(heavy) <= 3, _pending(heavy)

    with runtime.db() as session:  # the others' runs are done
        session.execute(update(SyncRun).where(SyncRun.connection_id.in_(queued + planning))
                        .values(status="succeeded"))
    assert plan_slice(heavy, run_id, lambda *_: None) is False
    assert 12 <= _pending(heavy) <= 13, _pending(heavy)
