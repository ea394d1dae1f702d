"""`spocc worker|beat|flower`: one part of the system in the foreground; and the parts
`spocc up` supervises (UP_PARTS)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import click

from cli.console import fail
from workers import runtime


def ensure_broker() -> None:
    """Use the configured broker, else the embedded Redis that `spocc up` runs."""
    s = runtime.settings()
    if s.broker_url is not None:
        return
    from workers.embedded import EmbeddedRedis

    embedded = EmbeddedRedis(s.data_dir)
    if not embedded.alive():
        fail("no broker: set SPOCC_BROKER_URL, or start everything with `spocc up`")
    os.environ["SPOCC_BROKER_URL"] = embedded.broker_url
    os.environ["SPOCC_REDIS_URL"] = embedded.redis_url
    runtime.reset()


@click.command()
@click.option("-Q", "--queues", default="orders,catalogue,default", show_default=True)
@click.option("-c", "--concurrency", type=int, default=2, show_default=True)
@click.option("--pool", default="prefork", show_default=True)
@click.option("-n", "--name", default=None, help="Node name (default: queues@host).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(queues: str, concurrency: int, pool: str, name: str | None, loglevel: str) -> None:
    """Run a Celery worker for QUEUES."""
    ensure_broker()
    from workers.celery_app import app

    node = name or f"{queues.replace(',', '-')}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-P",
            pool,
            "-n",
            node,
            "--loglevel",
            loglevel,
            "-E",
        ]
    )


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run celery beat with the RedBeat lock (a second beat waits for the lock)."""
    ensure_broker()
    from workers.celery_app import app

    app.start(["beat", "--loglevel", loglevel])


def flower_auth_file() -> Path:
    return runtime.settings().data_dir / "flower.auth"


def flower_credentials() -> str | None:
    """`user:password` from SPOCC_FLOWER_AUTH, else from the file `spocc up` made, else None."""
    given = os.environ.get("SPOCC_FLOWER_AUTH")
    if given:
        return given
    path = flower_auth_file()
    return path.read_text().strip() if path.exists() else None


def make_flower_credentials() -> str:
    """`spocc up` only: a login made once and kept in a 0600 file of the data directory."""
    have = flower_credentials()
    if have is not None:
        return have
    path = flower_auth_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"admin:{secrets.token_urlsafe(18)}")
    return path.read_text().strip()


@click.command()
@click.option("--port", type=int, default=5555, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
def flower(port: int, address: str) -> None:
    """Run Flower (basic auth; bounded in-memory task history)."""
    login = flower_credentials()
    if login is None or ":" not in login or not login.split(":", 1)[1]:
        fail("Flower needs a login: set SPOCC_FLOWER_AUTH=user:password (`spocc up` makes "
             f"one in {flower_auth_file()} and shows where)")
    ensure_broker()
    from workers.celery_app import app

    app.start(
        [
            "flower",
            f"--port={port}",
            f"--address={address}",
            "--max_tasks=10000",
            f"--basic_auth={login}",
            "--persistent=False",
            # Workers answer an inspect within this; a busy host needs more than 1 s.
            "--inspect_timeout=5000",
        ]
    )


COMMANDS = [worker, beat, flower]


@dataclass(frozen=True)
class UpPart:
    """One part `spocc up` starts, supervises and stops: a `spocc` command (or a module).

    `args` and `where` may name {port}, {concurrency}, {variations} and {data_dir}. A part
    with a `port` gets the option `spocc up --<port>` (default `default_port`), checked free
    before anything starts. `ready` is a path that answers once the part serves.
    """

    name: str
    args: tuple[str, ...]
    where: str
    port: str | None = None
    default_port: int | None = None
    ready: str | None = None
    module: str | None = None  # `python -m MODULE ARGS` instead of `spocc ARGS`
    test_mode: bool = False  # only while a connection is in test mode (the sandboxes)
    # Seconds a part gets to stop on SIGTERM before it is killed; None: the task soft time
    # limit plus a margin (a worker's warm shutdown finishes its task).
    grace: float | None = 15.0


# In start order; `spocc up` stops them in reverse, and the embedded Redis after them all.
# Adding a part is one entry here.
UP_PARTS: list[UpPart] = [
    UpPart("plentyone sandbox", ("--port", "{port}", "--variations", "{variations}"),
           "http://127.0.0.1:{port}", port="plentyone-port", default_port=8081,
           ready="/__admin/info", module="sandboxes.plentyone", test_mode=True),
    UpPart("spocc sandbox", ("--port", "{port}", "--variations", "{variations}"),
           "http://127.0.0.1:{port}", port="spocc-port", default_port=8082,
           ready="/__admin/info", module="sandboxes.spocc", test_mode=True),
    UpPart("worker orders", ("worker", "-Q", "orders", "-c", "{concurrency}", "-n", "orders@%h"),
           "queue orders", grace=None),
    UpPart("worker catalogue",
           ("worker", "-Q", "catalogue", "-c", "{concurrency}", "-n", "catalogue@%h"),
           "queue catalogue", grace=None),
    # Beat's tick and sweepers never wait behind long units (the tick expires after 55 s).
    UpPart("worker housekeeping",
           ("worker", "-Q", "default", "-c", "1", "-n", "housekeeping@%h"),
           "queue default (tick, sweepers, reaper)", grace=None),
    UpPart("beat", ("beat",), "RedBeat lock in Redis, heartbeat in SQL"),
    UpPart("flower", ("flower", "--port", "{port}"),
           "http://127.0.0.1:{port} (login in {data_dir}/flower.auth)", port="flower-port",
           default_port=5555, ready="/healthcheck"),
    UpPart("metrics exporter", ("exporter", "--port", "{port}"),
           "http://127.0.0.1:{port}/metrics (Prometheus)", port="metrics-port",
           default_port=9808, ready="/metrics"),
    UpPart("webhook receiver", ("webhooks", "--port", "{port}"),
           "http://127.0.0.1:{port}/hooks/<connection>/<event>", port="webhook-port",
           default_port=8000, ready="/healthz"),
    # Last: it is for people, nothing waits on it (the receiver is on the path of every order).
    UpPart("console", ("ops", "--port", "{port}", "-w", "1"),
           "http://127.0.0.1:{port} (login in {data_dir}/console.login)", port="console-port",
           default_port=5556, ready="/healthz"),
]
