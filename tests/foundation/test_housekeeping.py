"""Housekeeping never waits behind units (issue 10): the tick and the sweepers, on `default`,
have a worker of their own in `spocc up` and in docker-compose, so a catalogue worker busy
with long units does not make beat's minute tick wait (it expires after 55 s and is lost)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from cli.services import UP_PARTS
from store.db import session_scope
from store.models import Attempt
from tests.support.infra import private_redis_db, redis_url
from tests.support.processes import ROOT, SpoccProcess, wait_until

BUSY_SECONDS = 40.0


def _worker_args(queue: str) -> list[list[str]]:
    """The `spocc worker` commands of `up` that consume QUEUE, as `up` runs them."""
    found = []
    for part in UP_PARTS:
        args = [a.replace("{concurrency}", "2") for a in part.args]
        if args[0] == "worker" and queue in args[args.index("-Q") + 1].split(","):
            found.append(args)
    return found


def test_no_worker_of_up_or_compose_serves_housekeeping_beside_units() -> None:
    for queue in ("catalogue", "orders"):
        for args in _worker_args(queue):
            assert "default" not in args[args.index("-Q") + 1].split(","), args
    assert len(_worker_args("default")) == 1
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    queues = [s["command"][s["command"].index("-Q") + 1].split(",")
              for s in compose["services"].values()
              if s.get("command", [None, None])[:2] == ["spocc", "worker"]]
    assert [q for q in queues if "default" in q] == [["default"]], queues


def test_the_tick_runs_while_every_catalogue_process_is_busy(
    spocc_env: Any, tmp_path: Path
) -> None:
    # A broker of its own: the units still queued at the end must not reach other tests.
    with private_redis_db() as db:
        url = redis_url(db)
        _tick_beside_busy_units({**spocc_env.env, "SPOCC_BROKER_URL": url,
                                 "SPOCC_REDIS_URL": url}, spocc_env, tmp_path)


def _tick_beside_busy_units(env: dict[str, str], spocc_env: Any, tmp_path: Path) -> None:
    from celery import Celery

    sender = Celery(broker=env["SPOCC_BROKER_URL"])
    started: list[SpoccProcess] = []
    try:
        for n, args in enumerate(_worker_args("catalogue") + _worker_args("default")):
            args = [a.replace("@%h", f"-{uuid.uuid4().hex[:6]}@%h") for a in args]
            proc = SpoccProcess(args, env, tmp_path, f"w{n}").start()
            started.append(proc)
            proc.wait_for_log("ready.", 90)
        tokens = [uuid.uuid4().hex for _ in range(4)]
        for token in tokens:  # more long units than the catalogue worker has processes
            sender.send_task("spocc.test.effect", queue="catalogue",
                             kwargs={"token": token, "sleep_before": BUSY_SECONDS})

        def busy() -> int:
            return sum(any(spocc_env.data_dir.glob(f"started-{t}-*")) for t in tokens)

        wait_until(lambda: busy() >= 2, 60, "the units to occupy the catalogue worker")
        tick_id = str(uuid.uuid4())
        sender.send_task("spocc.catalogue.tick", queue="default", task_id=tick_id)

        def ticked() -> bool:
            with session_scope(spocc_env.database_url) as s:
                return "success" in s.execute(select(Attempt.outcome).where(
                    Attempt.task_id == tick_id)).scalars().all()

        wait_until(ticked, BUSY_SECONDS / 2, "the tick, while the units run")
    finally:
        for proc in started:
            if proc.proc is not None and proc.proc.poll() is None:
                proc.kill_main()  # the units sleep on: no warm shutdown waits for them
            proc.stop()
