"""`spocc orders show|release ID` and `spocc resync order ID`: one order, by its PlentyONE id."""

from __future__ import annotations

import click
from rich.table import Table

from cli.console import fail, out
from cli.services import ensure_broker
from store import config_store
from workers import runtime


def _connection(given: str | None) -> str:
    if given:
        return given
    with runtime.db() as session:
        ids = config_store.connection_ids(session)
    if len(ids) != 1:
        fail(f"name the connection with --connection (configured: {', '.join(ids) or 'none'})")
    return ids[0]


connection_option = click.option("--connection", "connection_id", default=None,
                                  help="Connection id (default: the only one).")


@click.group()
def orders() -> None:
    """Orders: what happened to one, and what a person decides."""


@orders.command()
@click.argument("order_id", type=int)
@connection_option
def show(order_id: int, connection_id: str | None) -> None:
    """The order's state and its events."""
    from tasks.orders import operator

    try:
        view = operator.show(_connection(connection_id), order_id)
    except operator.NoSuchOrder as exc:
        fail(str(exc))
    for key, value in view.state.items():
        out.print(f"{key:>20}: {value}")
    table = Table("event id", "event", "status", "attempts", "last error")
    for d in view.deliveries:
        table.add_row(str(d["id"]), d["event"], d["status"], str(d["attempts"]),
                      (d["last_error"] or "").splitlines()[0][:80] if d["last_error"] else "")
    out.print(table)


@orders.command()
@click.argument("order_id", type=int)
@connection_option
def release(order_id: int, connection_id: str | None) -> None:
    """Let an order held by the acceptance rule be registered as it is."""
    ensure_broker()
    from tasks.orders import operator

    try:
        sent = operator.release(_connection(connection_id), order_id)
    except operator.NoSuchOrder as exc:
        fail(str(exc))
    out.print(f"order {order_id} released; events sent again: {sent or 'none'}")


@click.group()
def resync() -> None:
    """Re-drive one object from its current state."""


@resync.command("order")
@click.argument("order_id", type=int)
@connection_option
def resync_order(order_id: int, connection_id: str | None) -> None:
    """Send every unfinished event of the order again (a registration if it has none)."""
    ensure_broker()
    from tasks.orders import operator

    sent = operator.resync(_connection(connection_id), order_id)
    out.print(f"order {order_id}: events sent: {sent or 'none (everything is done)'}")
