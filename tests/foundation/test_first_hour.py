"""What a new user meets in the first hour: `make up` installs what running needs and no
more, and every command README shows exists as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


def fresh_shell() -> dict[str, str]:
    """The environment of a new terminal: the project's venv is not active."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return env


def test_make_up_installs_only_what_running_needs(tmp_path: Path) -> None:
    env = {**fresh_shell(), "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")}
    done = subprocess.run(["make", "-s", "sync-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    installed = {p.name for p in (tmp_path / "venv" / "bin").iterdir()}
    assert "spocc" in installed and "celery" in installed
    assert not {"pytest", "ruff", "mypy", "hypothesis", "schemathesis"} & installed, installed
    # `make up` then runs without syncing: a plain `uv run` would add the dev group.
    plan = subprocess.run(["make", "-n", "up"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60).stdout
    assert "sync --frozen --no-dev" in plan and "run --no-sync spocc up" in plan, plan


@pytest.mark.sqlite
def test_a_new_up_forgets_the_last_sandboxes_and_keeps_the_configuration(
    spocc_env, any_db_url: str
) -> None:
    """A second `make up` starts empty sandboxes: order 1000 must reach SPoCC again, so
    what the connector knew of the last ones goes; other connections keep everything."""
    import yaml
    from sqlalchemy import func, select

    from cli.test_mode import reset_test_mode_data
    from store import config_store
    from store.db import session_scope
    from store.models import DeadLetter, EventDelivery, IdempotencyKey, SyncRun
    from tests.conftest import rows_of_a_connection
    from workers import runtime

    doc = yaml.safe_load((ROOT / "cli" / "demo_connection.yaml").read_text())
    demo, prod = dict(doc["connections"][0]), dict(doc["connections"][0])
    demo["id"], prod["id"], prod["test_mode"] = "demo-a", "prod-b", False
    rows = (EventDelivery, IdempotencyKey, SyncRun, DeadLetter)
    with session_scope(any_db_url) as session:
        config_store.apply(session, runtime.secret_box(), {"connections": [demo, prod]})
        for cid in ("demo-a", "prod-b"):
            session.add_all(rows_of_a_connection(cid, order_id=1000))
    with session_scope(any_db_url) as session:
        emptied = reset_test_mode_data(session, ["demo-a"])
    assert {"event_deliveries", "idempotency_keys", "sync_runs", "dead_letters"} <= set(emptied)
    with session_scope(any_db_url) as session:
        for model in rows:
            # other tests' connections share this database: count only these two
            left = dict(session.execute(
                select(model.connection_id, func.count())
                .where(model.connection_id.in_(("demo-a", "prod-b")))
                .group_by(model.connection_id)).all())
            assert left == {"prod-b": 1}, (model.__tablename__, left)
        assert set(config_store.connection_ids(session)) >= {"demo-a", "prod-b"}
        assert config_store.load(session, runtime.secret_box(), "demo-a").test_mode


def test_a_new_up_forgets_the_last_sandboxes_in_redis_too(spocc_env) -> None:
    """Row ids start again after a reset (SQLite reuses them): a message queued for a reset
    connection's old delivery 5, or its "run 3 followed" mark, must not meet the new ones.
    Other connections keep their keys and their queued work."""
    import base64
    import json

    import redis

    from workers.celery_app import app
    from workers.purge import forget_in_redis

    client = redis.Redis.from_url(spocc_env.redis_url)
    for cid in ("demo-r", "prod-r"):
        client.set(f"spocc:{cid}:followed:3", "1")
        client.set(f"spocc:{cid}:spocc-transactions:breaker", "open")
        app.send_task("spocc.orders.paid", kwargs={"connection_id": cid, "delivery_id": 5},
                      queue="orders")
        app.send_task("spocc.catalogue.unit", args=(cid, 3, 9), queue="catalogue")

    def queued(cid: str) -> int:
        found = 0
        for queue in ("orders", "catalogue"):
            for raw in client.lrange(queue, 0, -1):
                args, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
                found += cid in (kwargs.get("connection_id"), *args[:1])
        return found

    try:
        assert queued("demo-r") == 2
        forgot = forget_in_redis(client, ["demo-r"])
        assert forgot == {"keys": 2, "messages": 2}
        assert client.keys("spocc:demo-r:*") == [] and queued("demo-r") == 0
        assert len(client.keys("spocc:prod-r:*")) == 2 and queued("prod-r") == 2
    finally:
        forget_in_redis(client, ["demo-r", "prod-r"])
        client.close()


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    inline = re.findall(r"`(spocc [^`]+)`", text)
    blocks = [ln.split("#")[0].strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)
              for ln in block.splitlines() if ln.strip().startswith("spocc ")]
    return [c.replace("\\|", "|") for c in inline + blocks]


def test_every_spocc_command_readme_shows_exists() -> None:
    import click

    from cli.main import cli

    commands = readme_commands()
    assert len(commands) > 20
    for shown in commands:
        command: click.Command = cli
        for token in shown.split()[1:]:
            token = token.strip("[]")
            if token.startswith("-"):
                names = {o for p in command.params for o in getattr(p, "opts", [])}
                names |= {"-h", "--help"}
                assert token.split("=")[0] in names, f"{shown}: {command.name} has no {token}"
            elif isinstance(command, click.Group) and token not in ("…", "..."):
                first, *others = token.split("|")
                for name in (first, *others):
                    assert name in command.commands, f"{shown}: no `{name}` in {command.name}"
                command = command.commands[first]


def test_spocc_is_on_path_once_the_venv_is_activated() -> None:
    done = subprocess.run(["bash", "-c", ". .venv/bin/activate && spocc --help"], cwd=ROOT,
                          env=fresh_shell(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "SPoCC" in done.stdout


def test_a_second_up_on_the_same_data_dir_makes_a_demo_order_that_reaches_spocc(tmp_path):
    from tests.support.processes import SpoccProcess, free_port, wait_until

    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOCC_")}
    env["SPOCC_DATA_DIR"] = str(tmp_path / "var")
    ports = [str(free_port()) for _ in range(6)]
    args = ["up", "--flower-port", ports[0], "--plentyone-port", ports[1], "--spocc-port",
            ports[2], "--webhook-port", ports[3], "--metrics-port", ports[4],
            "--console-port", ports[5], "--variations", "200"]

    def demo(*more: str) -> str:
        done = subprocess.run([sys.executable, "-m", "cli", "demo", *more], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def registered(order_id: int) -> bool:
        import requests

        ledger = requests.get(f"http://127.0.0.1:{ports[2]}/__admin/ledger", timeout=5)
        return any(e["kind"] == "order.registered" and e["data"].get("plentyOrderId") == order_id
                   for e in ledger.json()["entries"])

    made = []
    for run in (1, 2):
        up = SpoccProcess(args, env, tmp_path, f"up-{run}").start()
        try:
            up.wait_for_log("the sandbox PlentyONE calls", timeout=240)
            order_id = int(demo("order").split("order ")[1].split()[0])
            made.append(order_id)
            wait_until(lambda o=order_id: registered(o), 90, f"order {order_id} at SPoCC ({run})")
        finally:
            up.stop(timeout=90)
        assert "stopped" in up.log()
    assert made[0] == made[1], made  # the same order id, from an empty sandbox, both times


def test_every_benchmark_readme_names_is_a_module_with_a_main() -> None:
    import importlib

    named = set(re.findall(r"`(?:uv run python -m |python -m )?(bench\.\w+)", (
        ROOT / "README.md").read_text()))
    assert {"bench.fairness", "bench.tick_scale", "bench.worker_rss"} <= named
    for module in sorted(named):
        assert callable(getattr(importlib.import_module(module), "main", None)), module
