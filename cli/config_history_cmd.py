"""`spocc config history|diff`: who applied which configuration, when, and what changed."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from cli.console import fail, out
from cli.sync_cmd import _connection
from store import config_store
from workers import runtime


@click.command()
@click.option("--connection", "connection_id", default=None, help="Default: the only one.")
@click.option("--limit", default=20, show_default=True)
def history(connection_id: str | None, limit: int) -> None:
    """The applied revisions of a connection's configuration, newest first."""
    conn = _connection(connection_id)
    with runtime.db() as session:
        revisions = config_store.history(session, conn, limit)
    table = Table("revision", "applied", "by", "secrets changed", title=f"configuration of {conn}")
    for rev in revisions:
        table.add_row(
            str(rev.revision),
            f"{rev.applied_at:%Y-%m-%d %H:%M:%S} UTC",
            escape(rev.actor),
            ", ".join(rev.secrets_changed) or "-",
        )
    out.print(table if revisions else f"no revision of {conn} recorded")


@click.command()
@click.argument("revision", type=int)
@click.option("--connection", "connection_id", default=None, help="Default: the only one.")
@click.option("--against", type=int, default=None, help="Compare with this revision "
              "(default: the one before).")
def diff(revision: int, connection_id: str | None, against: int | None) -> None:
    """What REVISION changed; secrets appear only as the mask."""
    conn = _connection(connection_id)
    try:
        with runtime.db() as session:
            lines = config_store.revision_diff(session, conn, revision, against)
    except config_store.UnknownRevision as exc:
        fail(str(exc))
    if lines:
        out.print(Syntax("\n".join(lines), "diff", theme="ansi_dark"))
    else:
        out.print("no changes")
