"""No worker sleeps on a budget that other work could use (issue 10 item 1): a unit whose
connection has no write slot for more than a moment hands the worker back, deferred until the
budget refills, and another retailer's run goes on meanwhile. A deferral is no attempt."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from store.catalogue_models import SyncUnit
from store.models import Attempt, DeadLetter
from tests.catalogue.conftest import only
from tests.catalogue.support import run_row, sandbox_pair, start_run, wait_run
from tests.conftest import Sandboxes
from tests.support.processes import SpoccProcess, wait_until
from workers import runtime

# Two writes a minute: a full run of a few hundred changed variations spends them at once.
TIGHT = "100/2"


@pytest.fixture
def tight_pair() -> Iterator[tuple[str, str]]:
    with sandbox_pair(300, plan=TIGHT) as pair:
        yield pair


# Production's limits: a call may take 150 s in all, so a unit once slept up to 120 s in
# its budget (the tests' 60 s soft limit leaves a call 30 s, too short to show it).
PRODUCTION = {"SPOCC_TASK_SOFT_TIME_LIMIT": "300", "SPOCC_TASK_TIME_LIMIT": "360"}


def _units(conn_id: str, outcome: str) -> list[str]:
    with runtime.db() as session:
        return [e or "" for e in session.execute(select(Attempt.error).where(
            Attempt.connection_id == conn_id, Attempt.task_name == "spocc.catalogue.unit",
            Attempt.outcome == outcome)).scalars()]


@pytest.mark.catalogue(variations=300, plenty_variations=300)
def test_a_unit_out_of_budget_hands_the_worker_to_another_connection(
    sandboxes: Sandboxes,
    tight_pair: tuple[str, str],
    make_connection: Callable[..., str],
    worker_factory: Callable[..., SpoccProcess],
) -> None:
    tight_plenty, tight_spocc = tight_pair
    starved = make_connection(tight_plenty, tight_spocc, processes=only())
    other = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only())
    for spocc in (tight_spocc, sandboxes.spocc_url):
        requests.post(f"{spocc}/__admin/catalogue/mutate", json={"percent": 50, "kind": "stock"},
                      timeout=10).raise_for_status()
    worker_factory(queues="catalogue,default", concurrency=1, **PRODUCTION)

    slow = start_run(starved, "stock_full")
    wait_until(lambda: any("rate budget" in e for e in _units(starved, "deferred")), 60,
               "a unit of the starved connection to wait for its budget, deferred")
    triggered = time.monotonic()
    quick = wait_run(start_run(other, "stock_full"), 120)
    took = time.monotonic() - triggered
    assert quick.status == "succeeded", quick.reason
    # One worker process: before, it slept in the starved budget (up to 120 s a call).
    assert took < 30, f"the other connection's run took {took:.0f} s"
    assert run_row(slow).status == "running"  # still waiting for its budget

    with runtime.db() as session:
        units = session.execute(select(SyncUnit.status, SyncUnit.attempts).where(
            SyncUnit.run_id == slow)).all()
        letters = session.execute(select(func.count()).select_from(DeadLetter).where(
            DeadLetter.connection_id == starved)).scalar_one()
    # a deferral is no attempt: no unit has counted one for its waits, none is dead
    assert letters == 0
    assert _units(starved, "retry") == []
    assert all(attempts <= 1 for status, attempts in units if status == "pending"), units
    attempts: Any = [a for _s, a in units]
    assert max(attempts) <= 2, units
