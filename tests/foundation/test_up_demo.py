"""`spocc up` as a new user runs it: an order made in the sandbox PlentyONE flows through
every event to the SPoCC sandbox and back as statuses, with nothing configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.support.processes import ROOT, SpoccProcess, free_port, wait_until

pytestmark = pytest.mark.slow


def test_order_made_in_the_sandbox_flows_through_every_event(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOCC_")}
    env["SPOCC_DATA_DIR"] = str(tmp_path / "var")
    flower, plenty, spocc_port, hooks, metrics, console = (free_port() for _ in range(6))
    up = SpoccProcess(
        ["up", "--flower-port", str(flower), "--metrics-port", str(metrics),
         "--console-port", str(console), "--plentyone-port", str(plenty),
         "--spocc-port", str(spocc_port), "--webhook-port", str(hooks), "--variations", "300"],
        env, tmp_path, "up",
    ).start()

    def demo(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "cli", "demo", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def status(order_id: int) -> float:
        return float(demo("show", str(order_id)).split("status ")[1].split()[0])

    try:
        up.wait_for_log("the sandbox PlentyONE calls", timeout=120)
        made = demo("order")
        order_id = int(made.split("order ")[1].split()[0])
        wait_until(lambda: status(order_id) == 5.1, 60, "status 5.1 (handed over)")
        demo("status", str(order_id), "11")
        demo("status", str(order_id), "6")
        demo("return", str(order_id))
        spocc = f"http://127.0.0.1:{spocc_port}"

        def kinds() -> list[str]:
            ledger = requests.get(f"{spocc}/__admin/ledger", timeout=5).json()["entries"]
            return [e["kind"] for e in ledger if e["data"].get("plentyOrderId") == order_id]

        wait_until(lambda: len(kinds()) == 4, 60, "every event at SPoCC")
        assert kinds()[0] == "order.registered"
        assert sorted(kinds()[1:3]) == ["order.payment", "order.shipping_documents"]
        assert kinds()[3] == "order.return"
        plenty_ledger = requests.get(f"http://127.0.0.1:{plenty}/__admin/ledger",
                                     params={"kind": "order.status_changed"}, timeout=5).json()
        set_by_us = [e["data"] for e in plenty_ledger["entries"]
                     if e["data"].get("orderId") == order_id]
        assert any(float(d.get("statusId", 0)) == 5.1 for d in set_by_us), set_by_us

        # The exporter `up` runs reads the embedded SQLite and Redis: the applied events
        # are in the accept → applied histogram, and every source answered.
        def scraped() -> str:
            return requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).text

        wait_until(lambda: 'spocc_event_accepted_to_applied_seconds_count{connection="demo",'
                   'event="order-registered"} 1.0' in scraped(), 30, "the applied registration")
        text = scraped()
        assert 'spocc_exporter_source_up{source="database"} 1.0' in text
        assert 'spocc_exporter_source_up{source="redis"} 1.0' in text
        assert 'celery_task_succeeded_total{hostname="orders@' in text
        _console_shows_the_demo(f"http://127.0.0.1:{console}", tmp_path / "var")
    finally:
        up.stop()
    assert "stopped" in up.log()


def _console_shows_the_demo(base: str, data_dir) -> None:
    """The console `up` serves, logged in with the login it generated into the data dir."""
    import re

    name, password = (data_dir / "console.login").read_text().strip().split(":", 1)
    assert (data_dir / "console.login").stat().st_mode & 0o077 == 0
    assert password not in (data_dir / "console.users").read_text()
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}/login").text)
    assert token is not None
    s.post(f"{base}/login", data={"csrf_token": token.group(1), "name": name,
                                  "password": password}, timeout=10)
    page = s.get(f"{base}/", timeout=30).text
    assert 'id="conn-demo"' in page and "alive" in page
