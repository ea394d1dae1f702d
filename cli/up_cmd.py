"""`spocc up`: the whole system in one terminal, on embedded defaults unless configured.

Each part is its own process (exactly the command an operator would run alone), so what
`up` shows working is what production runs. Ctrl-C stops them in reverse order, warm.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import click
import requests
import yaml
from rich.table import Table
from sqlalchemy import select

from cli.console import fail, out
from store import config_store, migrate
from store.models import Attempt
from workers import runtime

DEMO_FILE = Path(__file__).with_name("demo_connection.yaml")


@dataclass
class Part:
    name: str
    argv: list[str]
    where: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def _spocc(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def demo_document(plenty_port: int, spocc_port: int) -> dict[str, object]:
    doc = yaml.safe_load(DEMO_FILE.read_text())
    conn = doc["connections"][0]
    conn["plentyone"]["base_url"] = f"http://127.0.0.1:{plenty_port}"
    conn["spocc"]["base_url"] = f"http://127.0.0.1:{spocc_port}"
    return dict(doc)


def _sandbox_parts(plenty_port: int, spocc_port: int, variations: int) -> list[Part]:
    parts = []
    for name, port in (("plentyone", plenty_port), ("spocc", spocc_port)):
        module = f"sandboxes.{name}"
        if (Path(__file__).parent.parent / "sandboxes" / name / "__main__.py").exists():
            parts.append(
                Part(
                    f"{name} sandbox",
                    [
                        sys.executable,
                        "-m",
                        module,
                        "--port",
                        str(port),
                        "--variations",
                        str(variations),
                    ],
                    f"http://127.0.0.1:{port}",
                )
            )
    return parts


@click.command()
@click.option("--webhook-port", default=8000, show_default=True)
@click.option("--flower-port", default=5555, show_default=True)
@click.option("--metrics-port", default=9808, show_default=True)
@click.option("--plentyone-port", default=8081, show_default=True)
@click.option("--spocc-port", default=8082, show_default=True)
@click.option("--variations", default=16000, show_default=True, help="Sandbox catalogue size.")
@click.option("--no-sandboxes", is_flag=True, help="Do not start the test-mode sandboxes.")
@click.option("--concurrency", default=2, show_default=True, help="Processes per worker.")
@click.option(
    "--exit-after",
    type=float,
    default=None,
    hidden=True,
    help="Stop after N seconds (used by the tests).",
)
def up(
    webhook_port: int,
    flower_port: int,
    metrics_port: int,
    plentyone_port: int,
    spocc_port: int,
    variations: int,
    no_sandboxes: bool,
    concurrency: int,
    exit_after: float | None,
) -> None:
    """Start worker(s), beat, Flower, the metrics exporter, the webhook receiver and (test
    mode) the sandboxes."""
    s = runtime.settings()
    embedded = None
    if s.embedded:
        from workers.embedded import EmbeddedRedis

        embedded = EmbeddedRedis(s.data_dir)
        embedded.start()
        os.environ["SPOCC_BROKER_URL"] = embedded.broker_url
        os.environ["SPOCC_REDIS_URL"] = embedded.redis_url
        runtime.reset()
    os.environ["SPOCC_DATA_DIR"] = str(s.data_dir)

    migrate.upgrade(s.database_url)
    with runtime.db() as session:
        if not config_store.connection_ids(session):
            config_store.apply(
                session, runtime.secret_box(), demo_document(plentyone_port, spocc_port)
            )
            out.print(
                "no connection configured: applied the demo connection [bold]demo[/] "
                "(test mode, against the sandboxes)"
            )
        test_mode = any(
            config_store.load(session, runtime.secret_box(), cid).test_mode
            for cid in config_store.connection_ids(session)
        )

    parts: list[Part] = []
    if test_mode and not no_sandboxes:
        parts += _sandbox_parts(plentyone_port, spocc_port, variations)
    parts += [
        Part(
            "worker orders",
            _spocc("worker", "-Q", "orders", "-c", str(concurrency), "-n", "orders@%h"),
            "queue orders",
        ),
        Part(
            "worker catalogue",
            _spocc(
                "worker", "-Q", "catalogue,default", "-c", str(concurrency), "-n", "catalogue@%h"
            ),
            "queues catalogue, default",
        ),
        Part("beat", _spocc("beat"), "RedBeat lock in Redis"),
        Part(
            "flower",
            _spocc("flower", "--port", str(flower_port)),
            f"http://127.0.0.1:{flower_port} (login in {s.data_dir / 'flower.auth'})",
        ),
        Part(
            "metrics exporter",
            _spocc("exporter", "--port", str(metrics_port)),
            f"http://127.0.0.1:{metrics_port}/metrics (Prometheus)",
        ),
    ]
    if (Path(__file__).parent.parent / "receiver" / "app.py").exists():
        parts.append(
            Part(
                "webhook receiver",
                _spocc("webhooks", "--port", str(webhook_port)),
                f"http://127.0.0.1:{webhook_port}/hooks/<connection>/<event>",
            )
        )

    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        for part in parts:
            part.proc = subprocess.Popen(part.argv, start_new_session=True)
            if part.name.endswith("sandbox"):
                _wait_http(f"{part.where}/__admin/info", part)
        _show(parts, s.database_url, embedded.broker_url if embedded else s.broker_url or "")
        receiver = next((p for p in parts if p.name == "webhook receiver"), None)
        if receiver is not None:
            _wait_http(f"http://127.0.0.1:{webhook_port}/healthz", receiver)
            if test_mode and not no_sandboxes:
                _wire_sandbox_events(f"http://127.0.0.1:{webhook_port}")
        _demo_task(parts, flower_port)
        started = time.monotonic()
        while not stopping:
            for part in parts:
                if part.proc is not None and part.proc.poll() is not None:
                    out.print(f"[red]{part.name} exited with {part.proc.returncode}[/]")
                    stopping = True
            if exit_after is not None and time.monotonic() - started > exit_after:
                break
            time.sleep(0.5)
    finally:
        out.print("stopping…")
        _shutdown(parts)
        if embedded is not None:
            embedded.stop()
        out.print("stopped")


def _wait_http(url: str, part: Part, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.proc is not None and part.proc.poll() is not None:
            fail(f"{part.name} exited with {part.proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    fail(f"{part.name} did not answer at {url} within {timeout:.0f} s")


def _wire_sandbox_events(receiver_url: str) -> None:
    """Test mode: the sandbox PlentyONE gets the event procedures an operator would create."""
    from cli.test_mode import register_event_procedures

    with runtime.db() as session:
        ids = config_store.connection_ids(session)
    for conn_id in ids:
        conn = runtime.connection(conn_id)
        if not conn.test_mode:
            continue
        try:
            register_event_procedures(conn, receiver_url)
        except requests.RequestException as exc:
            out.print(f"[yellow]connection {conn_id}: event procedures not registered: {exc}[/]")
            continue
        out.print(f"connection {conn_id}: the sandbox PlentyONE calls {receiver_url}/hooks/"
                  f"{conn_id}/… on new orders, status 11/6/8 and returns "
                  "(try `spocc demo order`)")


def _show(parts: list[Part], database_url: str, broker: str) -> None:
    from sqlalchemy.engine import make_url

    table = Table("part", "pid", "where", title="spocc up")
    for p in parts:
        table.add_row(p.name, str(p.proc.pid if p.proc else "-"), p.where)
    table.add_row("database", "-", make_url(database_url).render_as_string(hide_password=True))
    table.add_row("broker", "-", broker.split("@")[-1])
    out.print(table)


def _demo_task(parts: list[Part], flower_port: int, timeout: float = 60.0) -> None:
    """Send one task through a real worker and wait until its attempt row says success."""
    from tasks.maintenance.demo import ping

    task_id = str(uuid4())
    ping.apply_async(kwargs={"note": "spocc up"}, task_id=task_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.proc is not None and p.proc.poll() is not None for p in parts):
            return
        with runtime.db() as session:
            done = (
                session.execute(select(Attempt.outcome).where(Attempt.task_id == task_id))
                .scalars()
                .all()
            )
        if "success" in done:
            out.print(f"[green]demo task {task_id} executed by a worker[/]")
            break
        time.sleep(0.3)
    else:
        fail("the demo task did not run within 60 s: see the worker output above")
    try:
        requests.get(f"http://127.0.0.1:{flower_port}/healthcheck", timeout=5)
        out.print(f"[green]Flower is up[/] at http://127.0.0.1:{flower_port}")
    except requests.RequestException:
        out.print("[yellow]Flower is not answering yet[/]")


def _shutdown(parts: list[Part], timeout: float = 20.0) -> None:
    for part in reversed(parts):
        if part.proc is not None and part.proc.poll() is None:
            os.killpg(part.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for part in reversed(parts):
        if part.proc is None:
            continue
        try:
            part.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(part.proc.pid, signal.SIGKILL)
            part.proc.wait()
