"""docker-compose.yml runs real commands: each service's command runs here for a few seconds.

No Docker engine runs on this machine, so the compose environment is pointed at the
machine's Redis and PostgreSQL (the test session's private databases) instead.
"""

from __future__ import annotations

import time

import pytest
import yaml

from console.users import entry
from tests.support.processes import ROOT, SpoccProcess, free_port

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SPOCC_SERVICES = {
    name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "spocc-connector"
}
READY = {
    "migrate": None,  # one-shot: exits 0
    "worker-orders": "ready.",
    "worker-catalogue": "ready.",
    "worker-housekeeping": "ready.",
    "beat": "beat: Starting",
    "flower": "Visit me at",
    "webhooks": "Listening at",
    "exporter": "exporter serving",
    "console": "Listening at",
}

pytestmark = pytest.mark.slow


def test_compose_has_every_part_and_persistent_redis():
    assert set(READY) <= set(SPOCC_SERVICES)
    assert "--appendonly" in COMPOSE["services"]["redis"]["command"]
    assert "postgres" in COMPOSE["services"]


@pytest.mark.parametrize("service", ["worker-orders", "worker-catalogue"])
def test_compose_workers_scale(service):
    """`docker compose up --scale worker-catalogue=4`: no fixed container name or host port
    to collide, and each replica names itself after its own container (%h)."""
    svc = SPOCC_SERVICES[service]
    assert "container_name" not in svc and "ports" not in svc
    node = svc["command"][svc["command"].index("-n") + 1]
    assert node.endswith("@%h")


@pytest.mark.parametrize("service", sorted(READY))
def test_compose_service_command_runs(service, spocc_env, tmp_path, free_port_env):
    svc = SPOCC_SERVICES[service]
    command = list(svc["command"])
    assert command[0] == "spocc"
    env = dict(spocc_env.env)
    for key in svc["environment"]:
        assert key.startswith("SPOCC_")
    env["SPOCC_FLOWER_AUTH"] = "admin:test-only"
    env["SPOCC_CONSOLE_USERS"] = entry("admin", "operator", "test-only-password")
    env["SPOCC_CONSOLE_SECRET"] = "s" * 40
    args = command[1:]
    if service in ("flower", "webhooks", "exporter", "console"):
        args = [a if a not in ("5555", "8000", "9808", "5556") else str(free_port_env)
                for a in args]
    proc = SpoccProcess(args, env, tmp_path, service).start()
    try:
        marker = READY[service]
        if marker is None:
            assert proc.proc is not None
            assert proc.proc.wait(timeout=60) == 0, proc.log()
            return
        proc.wait_for_log(marker, timeout=60)
        time.sleep(2)
        assert proc.proc is not None and proc.proc.poll() is None, proc.log()
    finally:
        proc.stop()


@pytest.fixture
def free_port_env() -> int:
    return free_port()


def test_compose_has_no_default_password():
    """Every credential is `${VAR:?how to set it}`: compose refuses to start without it."""
    import re

    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for name, svc in COMPOSE["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search("PASSWORD|AUTH|SECRET", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), (name, key, value)
    url = SPOCC_SERVICES["beat"]["environment"]["SPOCC_DATABASE_URL"]
    assert re.search(r"spocc:\$\{SPOCC_DB_PASSWORD:\?[^}]+\}@", url), url


def test_compose_lets_a_worker_finish_its_task_on_stop(monkeypatch):
    from workers.settings import load_settings

    monkeypatch.delenv("SPOCC_TASK_SOFT_TIME_LIMIT", raising=False)  # compose sets none
    soft = load_settings().task_soft_time_limit
    for name in ("worker-orders", "worker-catalogue", "worker-housekeeping"):
        grace = SPOCC_SERVICES[name]["stop_grace_period"]
        assert grace.endswith("s") and soft < int(grace[:-1]) <= soft + 60, (name, grace)
