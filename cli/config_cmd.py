"""`spocc config apply|show|remove|new-key`: the business configuration, stored in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from rich.syntax import Syntax

from cli.actor import actor_of, actor_option
from cli.console import err, fail, out
from schemas.config import PROCESSES, ConfigError
from store import config_store
from store.secrets import new_key
from workers import purge, runtime


@click.group()
def config() -> None:
    """Connections, credentials and mappings."""


def read_file(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", 2)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}" if where else ""
        fail(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', exc)}", 2)


@config.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate and show the diff; store nothing.")
@actor_option
def apply(file: Path, dry_run: bool, actor: str | None) -> None:
    """Validate FILE, show what changes, and store it (processes pick it up at once)."""
    document = read_file(file)
    try:
        with runtime.db() as session:
            changes = config_store.apply(
                session, runtime.secret_box(), document, actor=actor_of(actor)
            )
            if dry_run:
                session.rollback()
    except ConfigError as exc:
        err.print(f"[bold red]{file} is not applied[/]: {len(exc.errors)} error(s)")
        for line in exc.errors:
            err.print(f"  {line}", markup=False)
        raise click.exceptions.Exit(2) from None
    if changes:
        out.print(Syntax("\n".join(changes), "diff", theme="ansi_dark"))
    else:
        out.print("no changes")
    out.print("dry run: nothing stored" if dry_run else f"applied {file}")


@config.command()
def show() -> None:
    """Print the stored configuration, keys sorted, each process with its effective interval;
    secrets appear only as a mask."""
    with runtime.db() as session:
        doc = config_store.show(session)
    for conn in doc["connections"]:
        conn["processes"] = effective_processes(conn.get("processes") or {})
    out.print(yaml.safe_dump(doc, sort_keys=True), markup=False)


def effective_processes(given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every process as it runs: what the file set, else the default (schemas.config)."""
    shown = {}
    for name, default in PROCESSES.items():
        setting = given.get(name) or {}
        shown[name] = {
            "enabled": setting.get("enabled", True),
            "interval_minutes": setting.get("interval_minutes") or default,
        }
    return shown


@config.command()
@click.argument("connection_id")
@click.option("--yes", is_flag=True, help="Really remove it: nothing of it can be restored.")
@click.option("--reason", default=None, help="Why, for the audit.")
@actor_option
def remove(connection_id: str, yes: bool, reason: str | None, actor: str | None) -> None:
    """Remove CONNECTION_ID with all its rows (orders, deliveries, runs, dead letters, its
    configuration and history), its Redis keys and the work queued for it. Other
    connections keep everything; the audit keeps who removed it."""
    if not yes:
        fail(f"removing connection {connection_id} deletes everything of it: "
             "run again with --yes", 2)
    try:
        with runtime.db() as session:
            tables = config_store.remove(session, connection_id, actor_of(actor), reason)
    except config_store.UnknownConnection:
        fail(f"no connection {connection_id}: `spocc config show` lists them", 2)
    forgot = purge.forget_in_redis(runtime.redis_client(), [connection_id])
    runtime.reset()
    out.print(f"removed connection {connection_id}: rows of {', '.join(sorted(tables))}; "
              f"{forgot['keys']} Redis key(s), {forgot['messages']} queued message(s)")


@config.command("new-key")
def new_key_cmd() -> None:
    """Print a new SPOCC_SECRET_KEY (set it in the environment; it is never stored)."""
    click.echo(new_key())
