"""`spocc up` keeps its parts running: a part that dies is restarted with backoff, a part that
cannot start stops `up` (non-zero) before anything runs, a second `up` is refused, and Ctrl-C
or SIGTERM stops everything cleanly, the embedded Redis last."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT, SpoccProcess, free_port, wait_until
from workers import runtime

pytestmark = pytest.mark.slow


def up_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOCC_")}
    env["SPOCC_DATA_DIR"] = str(tmp_path / "var")
    env["SPOCC_EXTRA_TASK_MODULES"] = "tests.support.tasks"
    return env


def up_args(*extra: str) -> list[str]:
    ports = [str(free_port()) for _ in range(5)]
    return ["up", "--flower-port", ports[0], "--plentyone-port", ports[1],
            "--spocc-port", ports[2], "--webhook-port", ports[3], "--console-port", ports[4],
            "--variations", "200", *extra]


@pytest.fixture
def running_up(tmp_path: Path) -> Iterator[SpoccProcess]:
    up = SpoccProcess(up_args(), up_env(tmp_path), tmp_path, "up").start()
    try:
        up.wait_for_log("Flower is up", timeout=180)
        yield up
    finally:
        up.stop(timeout=60)


def pid_of(up: SpoccProcess, part: str) -> int:
    """The pid of PART in the latest table `up` printed (or restart line)."""
    for line in reversed(up.log().splitlines()):
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[1] == part and cells[2].isdigit():
            return int(cells[2])
        if line.startswith(f"{part} is up again (pid "):
            return int(line.split("(pid ")[1].rstrip(")"))
    raise AssertionError(f"no pid of {part} in the output of up")


def stop_output(up: SpoccProcess, sig: int, group: bool) -> tuple[int, str]:
    """Send SIG (to the whole foreground group, as a terminal's Ctrl-C does, or to `up`
    alone) and return up's exit code and what it wrote from then on."""
    assert up.proc is not None
    mark = len(up.log())
    if group:
        os.killpg(up.pid, sig)
    else:
        os.kill(up.pid, sig)
    code = up.proc.wait(timeout=120)
    return code, up.log()[mark:]


def read_last_tick(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> datetime | None:
    from workers.beat_health import last_tick

    monkeypatch.setenv("SPOCC_DATABASE_URL", f"sqlite:///{data_dir / 'spocc.db'}")
    runtime.reset()
    try:
        return last_tick()
    finally:
        monkeypatch.delenv("SPOCC_DATABASE_URL")
        runtime.reset()


def test_a_killed_part_is_restarted_and_ctrl_c_stops_all_cleanly(
    running_up: SpoccProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = running_up
    # A second `up` on the same data directory is refused before it starts anything.
    second = subprocess.run([sys.executable, "-m", "cli", *up_args()], cwd=ROOT,
                            env=up_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert second.returncode != 0
    assert "already running" in second.stderr, second.stdout + second.stderr
    assert "spocc up" not in second.stdout and "worker" not in second.stdout

    for part in ("beat", "worker orders"):
        os.kill(pid_of(up, part), signal.SIGKILL)
        up.wait_for_log(f"{part} exited with -9; restarting in 1 s", timeout=30)
        up.wait_for_log(f"{part} is up again", timeout=60)
    assert up.proc is not None and up.proc.poll() is None
    # The new beat takes the lock the killed one left (its time to live) and ticks.
    killed_at = datetime.now(UTC)
    wait_until(lambda: (read_last_tick(tmp_path / "var", monkeypatch) or killed_at) > killed_at,
               75, "a tick of the restarted beat")

    code, said = stop_output(up, signal.SIGINT, group=True)
    assert code == 0, said
    assert "Traceback" not in said, said[-4000:]
    assert said.rstrip().endswith("stopped"), said[-2000:]


def test_a_task_running_at_sigterm_finishes_before_up_stops(running_up, tmp_path):
    from celery import Celery

    from store.db import session_scope
    from store.models import IdempotencyKey

    var = tmp_path / "var"
    # Flower shows the workers at once, without anyone asking it to refresh.
    flower = running_up.args[running_up.args.index("--flower-port") + 1]
    login = tuple((var / "flower.auth").read_text().strip().split(":", 1))

    def listed() -> set[str]:  # never with ?refresh=1: Flower must find them on its own
        got = requests.get(f"http://127.0.0.1:{flower}/api/workers", auth=login, timeout=10)
        return {name.split("@")[0] for name in got.json()}

    # A loaded host brings a worker up after Flower: it shows it once it is online.
    wait_until(lambda: listed() >= {"orders", "catalogue"}, 60, "Flower to list the workers")
    sender = Celery(broker=f"redis+socket://{var / 'redis.sock'}")
    sender.send_task("spocc.test.effect", kwargs={"token": "warm", "sleep_before": 4.0},
                     queue="default")
    wait_until(lambda: any(var.glob("started-warm-*")), 60, "the task to start")
    code, said = stop_output(running_up, signal.SIGTERM, group=False)
    assert code == 0, said
    assert "Traceback" not in said, said[-4000:]
    with session_scope(f"sqlite:///{var / 'spocc.db'}") as session:
        done = session.query(IdempotencyKey).filter_by(scope="effect", key="warm").count()
    assert done == 1, "the warm shutdown did not let the running task finish"


def test_a_taken_port_stops_up_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = up_args()
        args[args.index("--spocc-port") + 1] = str(port)
        result = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT,
                                env=up_env(tmp_path), capture_output=True, text=True,
                                timeout=120)
    assert result.returncode != 0
    assert f"port {port} of the spocc sandbox is in use" in result.stderr, result.stderr
    assert "--spocc-port" in result.stderr
    assert "spocc up" not in result.stdout and "celery" not in result.stdout.lower()
    assert not (tmp_path / "var" / "redis.sock").exists()
