"""`spocc worker|beat|flower`: one part of the system in the foreground."""

from __future__ import annotations

import os
import secrets
import socket
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


def flower_credentials() -> str:
    """`user:password` from SPOCC_FLOWER_AUTH, else one made once and kept in a 0600 file."""
    given = os.environ.get("SPOCC_FLOWER_AUTH")
    if given:
        return given
    path = flower_auth_file()
    if not path.exists():
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
    ensure_broker()
    from workers.celery_app import app

    app.start(
        [
            "flower",
            f"--port={port}",
            f"--address={address}",
            "--max_tasks=10000",
            f"--basic_auth={flower_credentials()}",
            "--persistent=False",
        ]
    )


COMMANDS = [worker, beat, flower]
