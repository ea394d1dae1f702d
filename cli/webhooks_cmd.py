"""`spocc webhooks`: the webhook receiver under gunicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.services import ensure_broker
from workers import runtime

# No query string in the access log: `?token=` must never be written (the request line is
# masked as well, in receiver.redaction).
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def control_socket(port: int) -> Path:
    """gunicorn's control socket, in the data directory and named by port: gunicorn's default
    is one path in $HOME (or $XDG_RUNTIME_DIR) shared by every receiver on the host."""
    return runtime.settings().data_dir / f"gunicorn-{port}.ctl"


def gunicorn_options(host: str, port: int, workers: int, access_log: str | None) -> dict[str, Any]:
    sock = control_socket(port)
    sock.parent.mkdir(parents=True, exist_ok=True)
    return {
        "control_socket": str(sock),
        # A unix socket path is limited to 107 bytes; past that, no control socket rather
        # than one in a shared place.
        "control_socket_disable": len(str(sock).encode()) > 107,
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": access_log,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "logger_class": "receiver.redaction.RedactingGunicornLogger",
        "limit_request_line": 8190,
    }


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("-w", "--workers", type=int, default=4, show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def webhooks(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the webhook receiver (POST /hooks/<connection>/<event>)."""
    ensure_broker()
    from gunicorn.app.base import BaseApplication

    from receiver.app import create_app

    options = gunicorn_options(host, port, workers, "-" if access_log else None)

    class Receiver(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app()

    Receiver().run()
