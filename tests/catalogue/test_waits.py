"""A run that waits says why (issue 10 item 3): `spocc status` and `spocc sync` name what is
queued ahead of it, by process and connection ("queued behind 12 unit(s) of images …"), on
Redis from the queue's lists, on RabbitMQ (whose queues cannot be read) from SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner

from cli.main import cli
from store.models import SyncRun
from tasks.catalogue import control, waits
from tasks.catalogue.planner import plan_slice
from tasks.catalogue.tasks import send_unit, start
from tests.catalogue.conftest import only
from tests.conftest import ON_BOTH_BROKERS, Sandboxes, SpoccEnv, _drop_queued_work
from workers import runtime


@pytest.fixture
def no_worker(spocc_env: SpoccEnv) -> Iterator[None]:
    # Nothing consumes the catalogue queue in this test: what it queues is dropped after.
    _drop_queued_work(spocc_env.redis_url)
    yield
    _drop_queued_work(spocc_env.redis_url)


@pytest.fixture
def sync_connection(sandboxes: Sandboxes, make_connection: Callable[..., str]) -> str:
    # room for the image run's 12 units in the queue at once (its share)
    return make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                           share={"queued": 50})


@pytest.mark.catalogue(variations=600, plenty_variations=600)
@ON_BOTH_BROKERS
def test_a_queued_run_names_the_units_ahead_of_it(broker_backend: str, sync_connection: str,
                                                  no_worker: None) -> None:
    with runtime.db() as session:
        images = control.start_run(session, sync_connection, "images").id
    while not plan_slice(sync_connection, images, send_unit):  # 12 units of 50, queued
        pass
    with runtime.db() as session:
        attributes = control.start_run(session, sync_connection, "attributes").id
    start(sync_connection, attributes)  # its planner: same tier, behind the image units

    shown = CliRunner().invoke(cli, ["status", "--connection", sync_connection])
    said = " ".join(shown.output.split())
    # (on RabbitMQ, from SQL, an earlier test's units, still pending there, may come first)
    assert "queued behind " in said, shown.output
    assert f"12 unit(s) of images (connection {sync_connection})" in said, shown.output

    # a delta is served first: nothing is ahead of it
    with runtime.db() as session:
        delta = control.start_run(session, sync_connection, "stock_delta").id
    start(sync_connection, delta)
    with runtime.db() as session:
        assert waits.why(session, session.get_one(SyncRun, delta)) is None
        assert "12 unit(s) of images" in str(waits.why(session,
                                                       session.get_one(SyncRun, attributes)))


@pytest.mark.catalogue(variations=600, plenty_variations=600)
def test_spocc_sync_says_what_its_run_waits_for(sync_connection: str, no_worker: None) -> None:
    with runtime.db() as session:
        images = control.start_run(session, sync_connection, "images").id
    while not plan_slice(sync_connection, images, send_unit):
        pass
    shown = CliRunner().invoke(cli, ["sync", "attributes", "--connection", sync_connection,
                                     "--timeout", "4"])
    assert "queued behind 12 unit(s) of images" in " ".join(shown.output.split()), shown.output


@pytest.mark.catalogue(variations=2500, plenty_variations=2500)
def test_a_planner_paused_on_its_share_says_so(
        sandboxes: Sandboxes, make_connection: Callable[..., str], no_worker: None) -> None:
    conn = make_connection(sandboxes.plenty_url, sandboxes.spocc_url, processes=only(),
                           share={"queued": 5})
    with runtime.db() as session:
        images = control.start_run(session, conn, "images").id
    assert not plan_slice(conn, images, lambda *_a: None)  # 20 units of a page, not sent
    with runtime.db() as session:
        said = waits.why(session, session.get_one(SyncRun, images))
    assert said == ("plans more once some of its connection's 20 queued unit(s) start "
                    "(its share: share.queued 5)"), said
