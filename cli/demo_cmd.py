"""`spocc demo order|status|return|show`: drive an order through the sandbox PlentyONE.

What a shop's customer and staff would do in PlentyONE; the event procedures `spocc up`
registered carry each step to the connector, visibly in Flower and `spocc status`. Status
changes and returns go through the connection's own PlentyONE client, so they share its
token (the sandbox, like PlentyONE, allows few sessions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import requests

import clients
from cli.console import fail, out
from cli.services import ensure_broker
from cli.test_mode import create_demo_order
from clients.errors import ClientError
from clients.plentyone import PlentyOneClient
from workers import runtime

CONNECTION = click.option("--connection", "connection_id", default="demo", show_default=True)


@contextmanager
def _plenty(connection_id: str) -> Iterator[PlentyOneClient]:
    ensure_broker()
    conn = runtime.connection(connection_id)
    if not conn.test_mode:
        fail(f"connection {connection_id} is not in test mode")
    client = clients.build_plentyone(conn, runtime.redis_client(), priority="orders")
    try:
        yield client
    except ClientError as exc:
        fail(f"PlentyONE: {exc}")
    finally:
        client.close()


@click.group()
def demo() -> None:
    """Orders in the sandbox PlentyONE (test mode only)."""


@demo.command()
@CONNECTION
@click.option("--lines", default=2, show_default=True)
@click.option("--warehouse", default=1, show_default=True)
def order(connection_id: str, lines: int, warehouse: int) -> None:
    """A new order of variations in stock at SPoCC: fires "order registered"."""
    ensure_broker()
    conn = runtime.connection(connection_id)
    mapped = conn.mappings.store_for_warehouse(warehouse)
    if mapped is None:
        fail(f"warehouse {warehouse} is not mapped to a channel store")
    spocc = clients.build_spocc(conn, runtime.redis_client(), priority="orders")
    chosen: list[str] = []
    try:
        for row in spocc.stock(channel_store=mapped.channel_store, page_size=200):
            if any(s["channelStore"] == mapped.channel_store and s["available"] > 0
                   for s in row["stock"]):
                chosen.append(row["spoccId"])
            if len(chosen) == lines:
                break
    except ClientError as exc:
        fail(f"SPoCC: {exc}")
    finally:
        spocc.close()
    try:
        made = create_demo_order(conn.plentyone.base_url, chosen, warehouse_id=warehouse)
    except requests.RequestException as exc:
        fail(f"sandbox PlentyONE at {conn.plentyone.base_url}: {exc}")
    out.print(f"order {made['id']} created in the sandbox PlentyONE (status {made['statusId']})")
    out.print(f"next: `spocc demo status {made['id']} 11` (paid), then 6 (shipping documents)")


@demo.command()
@CONNECTION
@click.argument("order_id", type=int)
@click.argument("status_id", type=float)
def status(connection_id: str, order_id: int, status_id: float) -> None:
    """Set an order's status (11 paid, 6 shipping documents, 8 cancelled)."""
    with _plenty(connection_id) as plenty:
        changed = plenty.set_order_status(order_id, status_id)
    out.print(f"order {order_id} now in status {changed.get('statusId')}")


@demo.command("return")
@CONNECTION
@click.argument("order_id", type=int)
def return_(connection_id: str, order_id: int) -> None:
    """Register a return of every line: fires "return registered"."""
    with _plenty(connection_id) as plenty:
        found = plenty.order(order_id)
        quantities = [
            {"orderItemId": item["id"], "quantity": item["quantity"]}
            for item in found.get("orderItems", []) if item.get("itemVariationId")
        ]
        made = plenty.create_return(order_id, quantities)
    out.print(f"return order {made.get('id')} created for order {order_id}")


@demo.command()
@CONNECTION
@click.argument("order_id", type=int)
def show(connection_id: str, order_id: int) -> None:
    """The order's status and properties as PlentyONE has them now."""
    with _plenty(connection_id) as plenty:
        found = plenty.order(order_id)
    out.print(f"order {order_id}: status {found.get('statusId')}")
    for prop in found.get("properties", []):
        out.print(f"  property {prop.get('typeId')}: {prop.get('value')}")
