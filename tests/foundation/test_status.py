"""`spocc status` tells the truth: what needs a person exits 1, what cannot be reached exits 2.

Each test has a database of its own (PostgreSQL and SQLite), so what other tests leave
behind (their dead letters, their connections) is not counted here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from store import config_store, dead_letters
from store.db import session_scope
from store.migrate import upgrade
from store.models import EventDelivery, SyncRun, utcnow
from store.operator_models import ConfigRevision
from tests.conftest import connection_document
from tests.foundation.test_cli import spocc
from tests.support.infra import (
    private_postgres,
    private_rabbitmq_vhost,
    private_redis_db,
    redis_url,
)
from tests.support.processes import SpoccProcess, wait_until
from workers import beat_health, runtime


@pytest.fixture(params=["postgresql", "sqlite"])
def own_db(request, spocc_env, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, migrated database that `runtime` (and `spocc` processes) use."""

    def use(url: str) -> str:
        upgrade(url)
        monkeypatch.setenv("SPOCC_DATABASE_URL", url)
        monkeypatch.setenv("SPOCC_HELD_HORIZON_SECONDS", "3600")
        runtime.reset()
        return url

    if request.param == "postgresql":
        with private_postgres() as url:
            yield use(url)
    else:
        yield use(f"sqlite:///{tmp_path / 'status.db'}")
    monkeypatch.undo()
    runtime.reset()


def _problems(kind: str) -> list:
    from tasks.maintenance.health import gather

    health = gather()
    assert not health.unreachable, health.unreachable
    return [p for p in health.problems if p.kind == kind]


def _sweeper_letters(url: str, n: int) -> None:
    with session_scope(url) as s:
        for _ in range(n):
            dead_letters.add(
                s, task_name="spocc.catalogue.sweep", task_id=str(uuid.uuid4()),
                queue="default", connection_id=None, args=[], kwargs={}, attempts=1,
                last_error="TypeError: can't subtract offset-naive and offset-aware datetimes",
            )


def test_dead_letters_of_no_connection_are_counted_and_need_a_person(own_db):
    from tasks.maintenance.health import gather

    _sweeper_letters(own_db, 13)
    health = gather()
    assert health.open_dead_letters == {None: 13}
    [group] = health.orphan_groups
    assert (group.key, group.count) == ("spocc.catalogue.sweep:TypeError", 13)
    [problem] = [p for p in health.problems if p.kind == "dead_letters"]
    assert problem.subject == "no connection" and "13 open dead letter" in problem.detail
    assert health.exit_code == 1


def test_beat_silent_for_more_than_two_ticks_needs_a_person(own_db):
    [never] = _problems("beat")
    assert "never ticked" in never.detail
    beat_health.record_tick(utcnow() - timedelta(seconds=3 * beat_health.LOOP_SECONDS))
    [silent] = _problems("beat")
    assert "beat silent for" in silent.detail
    beat_health.record_tick(utcnow() - timedelta(seconds=beat_health.LOOP_SECONDS))
    assert _problems("beat") == []


def _connection(url: str) -> str:
    conn_id = f"s-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, "http://127.0.0.1:1", "http://127.0.0.1:2")
    with session_scope(url) as s:
        config_store.apply(s, runtime.secret_box(), doc, actor="test")
    return conn_id


def _succeeded(url: str, conn_id: str, process: str, ago: timedelta) -> None:
    at = utcnow() - ago
    with session_scope(url) as s:
        s.add(SyncRun(connection_id=conn_id, process=process, slot=uuid.uuid4().hex,
                      status="succeeded", started_at=at - timedelta(seconds=5),
                      finished_at=at))


def test_a_process_overdue_at_twice_its_interval_needs_a_person(own_db):
    from schemas.config import PROCESSES

    conn_id = _connection(own_db)
    for process in PROCESSES:
        if process != "stock_delta":
            _succeeded(own_db, conn_id, process, timedelta(minutes=1))
    # set up an hour ago, stock_delta (every 15 min) never succeeded
    with session_scope(own_db) as s:
        s.execute(update(ConfigRevision).where(ConfigRevision.connection_id == conn_id)
                  .values(applied_at=utcnow() - timedelta(hours=1)))
    [never] = _problems("overdue")
    assert "stock_delta never succeeded" in never.detail
    _succeeded(own_db, conn_id, "stock_delta", timedelta(minutes=31))
    [late] = _problems("overdue")
    assert late.subject == f"connection {conn_id}"
    assert "stock_delta last succeeded 31 min ago (every 15 min)" in late.detail
    _succeeded(own_db, conn_id, "stock_delta", timedelta(minutes=29))
    assert _problems("overdue") == []
    with session_scope(own_db) as s:  # a paused process is not overdue
        from tasks.catalogue.control import set_paused

        set_paused(s, conn_id, True, "attributes")
    _succeeded(own_db, conn_id, "attributes", timedelta(days=1))
    assert _problems("overdue") == []


def test_a_connection_whose_configuration_does_not_open_needs_a_person(own_db):
    """A secret stored under another SPOCC_SECRET_KEY: status names the connection and the
    fix instead of dying in a traceback, and still reports everything else."""
    from schemas.secret import Secret
    from store.secrets import SecretBox, new_key
    from tasks.maintenance.health import gather

    conn_id = f"s-{uuid.uuid4().hex[:8]}"
    doc = connection_document(conn_id, "http://127.0.0.1:1", "http://127.0.0.1:2")
    with session_scope(own_db) as s:
        config_store.apply(s, SecretBox(Secret(new_key())), doc, actor="test")
    _sweeper_letters(own_db, 1)
    health = gather()
    [problem] = [p for p in health.problems if p.kind == "config"]
    assert problem.subject == f"connection {conn_id}"
    assert "SPOCC_SECRET_KEY" in problem.detail and "spocc check" in problem.detail
    assert any(p.kind == "dead_letters" for p in health.problems)
    assert health.exit_code == 1


def test_an_event_held_past_its_horizon_needs_a_person(own_db):
    conn_id = f"s-{uuid.uuid4().hex[:8]}"
    with session_scope(own_db) as s:
        row = EventDelivery(connection_id=conn_id, event_type="order_paid", order_id=7,
                            status="held")
        s.add(row)
    assert _problems("held") == []  # held for a moment: the registration may still come
    with session_scope(own_db) as s:
        s.execute(update(EventDelivery).where(EventDelivery.connection_id == conn_id)
                  .values(created_at=utcnow() - timedelta(hours=2)))
    [held] = _problems("held")
    assert held.subject == f"connection {conn_id}" and "horizon 60 min" in held.detail


@pytest.mark.slow
def test_status_exits_0_when_all_is_well_and_1_for_a_queue_nobody_consumes(
    spocc_env, tmp_path: Path
):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    # A broker of its own too: messages other tests left queued would reach this worker and
    # become dead letters here.
    with private_redis_db() as db:
        env = {**spocc_env.env, "SPOCC_DATABASE_URL": url,
               "SPOCC_BROKER_URL": redis_url(db), "SPOCC_REDIS_URL": redis_url(db)}
        _all_well_then_a_person_is_needed(env, url, tmp_path)


def _all_well_then_a_person_is_needed(env: dict[str, str], url: str, tmp_path: Path) -> None:
    started = []

    def run(args: list[str], name: str) -> SpoccProcess:
        proc = SpoccProcess(args, env, tmp_path, name).start()
        started.append(proc)
        return proc

    try:
        run(["beat", "--loglevel", "INFO"], "beat")
        run(["worker", "-Q", "orders,default", "-c", "1", "-n", "st-a@%h"], "w-a"
            ).wait_for_log("ready.", 90)
        wait_until(lambda: spocc(env, "status").returncode != 2, 60, "status to run")
        result = spocc(env, "status")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "queue catalogue: no live worker consumes catalogue" in result.stdout
        assert "needs a person (1)" in result.stdout, result.stdout
        run(["worker", "-Q", "catalogue", "-c", "1", "-n", "st-b@%h"], "w-b"
            ).wait_for_log("ready.", 90)
        result = spocc(env, "status")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "all well" in result.stdout and "(no connection)" in result.stdout
        _sweeper_letters(url, 13)
        result = spocc(env, "status")
        assert result.returncode == 1
        assert "spocc.catalogue.sweep:TypeError" in result.stdout
        assert "no connection: 13 open dead letter(s)" in result.stdout
    finally:
        for proc in started:
            proc.stop()


@pytest.mark.slow
def test_on_rabbitmq_status_counts_the_tier_queues_and_sees_their_consumers(
    spocc_env, tmp_path: Path
):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    with private_redis_db() as db, private_rabbitmq_vhost() as amqp:
        env = {**spocc_env.env, "SPOCC_DATABASE_URL": url, "SPOCC_BROKER_URL": amqp,
               "SPOCC_REDIS_URL": redis_url(db)}
        _all_well_then_a_person_is_needed(env, url, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("part", ["database", "redis", "broker"])
def test_status_exits_2_when_the_database_or_redis_cannot_be_reached(spocc_env, part):
    env = dict(spocc_env.env)
    if part == "database":
        env["SPOCC_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    elif part == "redis":
        env["SPOCC_BROKER_URL"] = env["SPOCC_REDIS_URL"] = "redis://127.0.0.1:1/0"
    else:  # RabbitMQ as the broker, not there; Redis is
        env["SPOCC_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:1/nowhere"
    result = spocc(env, "status")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{part} unreachable" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
