"""The `spocc` command as an operator uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, SpoccProcess, free_port, wait_until

pytestmark = pytest.mark.slow


def spocc(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_check_passes_on_a_configured_system(spocc_env, connection):
    result = spocc(spocc_env.env, "check", "--connection", connection.id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for item in ("database: reachable", "broker: reachable", "configuration valid",
                 "PlentyONE credentials: accepted", "SPoCC API keys: accepted"):
        assert item in result.stdout


def test_check_names_the_unreachable_broker(spocc_env):
    env = {
        **spocc_env.env,
        "SPOCC_BROKER_URL": "redis://127.0.0.1:1/0",
        "SPOCC_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = spocc(env, "check")
    assert result.returncode == 1
    assert "broker" in result.stdout and "FAIL" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_names_an_unmigrated_database(spocc_env, tmp_path):
    env = {**spocc_env.env, "SPOCC_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = spocc(env, "check")
    assert result.returncode == 1
    assert "database schema" in result.stdout and "spocc db upgrade" in result.stdout


def test_dlq_commands_on_an_unknown_id_say_so(spocc_env):
    result = spocc(spocc_env.env, "dlq", "show", "999999")
    assert result.returncode == 1
    assert "dead letter 999999 does not exist" in result.stderr


def test_up_runs_the_whole_system_on_embedded_defaults(tmp_path):
    """A new user's first command: no broker, no database configured, nothing but Python."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOCC_")}
    env["SPOCC_DATA_DIR"] = str(tmp_path / "var")
    ports = [free_port() for _ in range(5)]
    result = spocc(
        env,
        "up",
        "--exit-after",
        "6",
        "--flower-port",
        str(ports[0]),
        "--console-port",
        str(ports[4]),
        "--plentyone-port",
        str(ports[1]),
        "--spocc-port",
        str(ports[2]),
        "--webhook-port",
        str(ports[3]),
        "--variations",
        "500",
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    assert "applied the demo connection" in out
    assert "executed by a worker" in out
    assert "Flower is up" in out
    assert "console.login" in out  # where the generated console login is
    assert "stopped" in out
    assert (tmp_path / "var" / "spocc.db").exists()
    assert (tmp_path / "var" / "appendonly.aof").exists() or any(
        (tmp_path / "var").glob("appendonlydir*")
    )


def test_status_shows_queues_workers_connections_and_circuits(spocc_env, connection,
                                                              worker_factory):
    worker_factory(queues="default", concurrency=1, name="statusw")
    result = spocc(spocc_env.env, "status")
    # no worker takes the orders and catalogue queues: a person is needed
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "queue orders: no live worker consumes orders" in out
    for queue in ("orders", "catalogue", "default"):
        assert queue in out
    assert "statusw-0@" in out
    assert connection.id in out
    assert "plentyone writes" in out and "closed" in out
    assert f"catalogue sync of {connection.id}" in out and "stock_delta" in out


def test_status_shows_when_beat_last_ticked(spocc_env):
    from datetime import UTC, datetime, timedelta

    from workers import beat_health

    beat_health.record_tick(datetime.now(UTC) - timedelta(seconds=42))
    result = spocc(spocc_env.env, "status")
    assert result.returncode == 1, result.stderr  # silent for more than two ticks
    assert "beat silent for" in result.stdout
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("beat:"))
    age = int(line.split("last tick ")[1].split(" s ago")[0])
    assert 42 <= age < 42 + 120, line  # plus the time `spocc status` takes to start
    assert f"{socket.gethostname()}:{os.getpid()}" in line


def test_flower_refuses_to_start_without_a_login(spocc_env, tmp_path):
    env = {k: v for k, v in spocc_env.env.items() if k != "SPOCC_FLOWER_AUTH"}
    env["SPOCC_DATA_DIR"] = str(tmp_path / "fresh")
    result = spocc(env, "flower", "--port", str(free_port()), timeout=60)
    assert result.returncode != 0
    assert "SPOCC_FLOWER_AUTH=user:password" in result.stderr, result.stdout + result.stderr
    assert not (tmp_path / "fresh" / "flower.auth").exists()


def test_the_receivers_control_socket_is_in_the_data_dir(spocc_env, tmp_path):
    port = free_port()
    env = {**spocc_env.env, "SPOCC_DATA_DIR": str(tmp_path / "data")}
    receiver = SpoccProcess(["webhooks", "--port", str(port), "-w", "1"], env, tmp_path, "hooks")
    try:
        receiver.start().wait_for_log("Listening at", timeout=60)
        wait_until(lambda: (tmp_path / "data" / f"gunicorn-{port}.ctl").exists(), 30,
                   "the control socket in the data dir")
    finally:
        receiver.stop()
