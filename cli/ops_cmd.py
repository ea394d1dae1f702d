"""`spocc ops`: the operator's console under gunicorn; `spocc ops user` makes a login entry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from cli.console import fail, out
from cli.services import ensure_broker

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def console_login(data_dir: Path) -> None:
    """For `spocc up`: the configured users, else one operator generated into the data dir
    (`console.login`, like Flower's `flower.auth`) that the console's process is pointed at."""
    if os.environ.get("SPOCC_CONSOLE_USERS") or os.environ.get("SPOCC_CONSOLE_USERS_FILE"):
        return
    from console.users import generated_login

    users_file, _ = generated_login(data_dir)
    os.environ["SPOCC_CONSOLE_USERS_FILE"] = str(users_file)


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5556, show_default=True)
@click.option("-w", "--workers", type=int, default=2, show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.pass_context
def ops(ctx: click.Context, host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the operator's console (login from SPOCC_CONSOLE_USERS; see `spocc ops user`)."""
    if ctx.invoked_subcommand is not None:
        return
    from console import settings as console_settings
    from console.users import UsersError
    from workers import runtime

    try:
        cs = console_settings.load(runtime.settings().data_dir)
    except (UsersError, ValueError) as exc:
        fail(f"the console does not start: {exc}")
    ensure_broker()
    from gunicorn.app.base import BaseApplication

    from console.app import create_app

    # No query string in the access log: filters are harmless, but nothing else logs URLs whole.
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        # pages are short requests: a browser's idle keep-alive must not hold a shutdown
        "graceful_timeout": 5,
        "keepalive": 2,
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "control_socket_disable": True,
    }

    class Console(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(cs)

    out.print(f"console on http://{host}:{port} ({len(cs.users)} user(s))")
    Console().run()


@ops.command()
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "viewer"]), default="viewer",
              show_default=True)
@click.password_option("--password", help="Asked for (twice) when not given.")
def user(name: str, role: str, password: str) -> None:
    """Print a SPOCC_CONSOLE_USERS entry (name:role:hash) for NAME; the password is hashed."""
    from console.users import UsersError, entry

    try:
        click.echo(entry(name, role, password))
    except UsersError as exc:
        fail(str(exc))
