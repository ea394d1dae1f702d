"""`spocc status` (what is running, queued and failing) and `spocc check` (is it set up right)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
import redis
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cli.console import out
from cli.services import ensure_broker
from schemas.config import ConfigError, ConnectionConfig
from store import config_store, migrate
from store.models import Connection
from store.secrets import SecretKeyError
from workers import runtime

if TYPE_CHECKING:
    from tasks.maintenance.health import Health


@dataclass
class Finding:
    item: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but an operator should know (e.g. a store left unmapped)


@click.command()
@click.option(
    "--connection",
    "connection_id",
    default=None,
    help="Only this connection's sync processes (default: every connection's).",
)
def status(connection_id: str | None) -> None:
    """Workers, queues, beat, dead letters, waiting orders, circuits and each sync process.

    Exits 1 when a person is needed (an open dead letter, beat silent, a queue nobody
    consumes, a process overdue at twice its interval, an event held past its horizon), 2
    when the database or Redis cannot be reached.
    """
    from tasks.maintenance.health import gather

    try:
        ensure_broker()
    except click.exceptions.Exit:
        pass  # no broker and no embedded one: reported below as Redis unreachable
    health = gather()
    for part, why in health.unreachable.items():
        out.print(f"[bold red]{part} unreachable[/]: {escape(why)}")
    if not {"redis", "broker"} & set(health.unreachable):
        table = Table("queue", "waiting", "consumers")
        for q, n in health.queues.items():
            table.add_row(q, str(n), ", ".join(health.consumers.get(q, [])) or "[red]none[/]")
        out.print(table)
        out.print(f"workers alive: {', '.join(health.workers) or 'none'}")
    if "database" in health.unreachable:
        _exit(health.exit_code)
    out.print(_beat_line(health))
    with runtime.db() as session:
        conns = session.execute(select(Connection).order_by(Connection.id)).scalars().all()
    _connections(health, conns)
    _deliveries(health)
    if "redis" not in health.unreachable:
        _apis(conns)
    from tasks.catalogue.control import status_table

    with runtime.db() as session:
        for c in conns:
            if connection_id in (None, c.id):
                out.print(status_table(session, c.id))
    if health.problems:
        out.print(f"[bold red]needs a person[/] ({len(health.problems)}):")
        for p in health.problems:
            out.print(f"  [red]{p.kind}[/] {escape(p.subject)}: {escape(p.detail)}", soft_wrap=True)
    elif not health.unreachable:
        out.print("[green]all well[/]: nothing needs a person")
    _exit(health.exit_code)


def _exit(code: int) -> None:
    if code:
        raise click.exceptions.Exit(code)


def _beat_line(health: Health) -> str:
    """Beat's last tick, from its heartbeat in SQL (workers/beat_health.py)."""
    last, age = health.beat_last_tick, health.beat_age
    if last is None or age is None:
        return "beat: [red]never ticked[/]"
    silent = any(p.kind == "beat" for p in health.problems)
    return (f"beat: last tick {'[red]' if silent else ''}{age:.0f} s ago{'[/]' if silent else ''} "
            f"({last:%Y-%m-%d %H:%M:%S} UTC, {escape(health.beat_holder or '?')})")


def _connections(health: Health, conns: Sequence[Connection]) -> None:
    ctable = Table("connection", "test mode", "revision", "scheduling", "open dead letters")
    for c in conns:
        paused = (
            "paused"
            if c.paused
            else (f"paused: {', '.join(c.paused_processes)}" if c.paused_processes else "on")
        )
        ctable.add_row(c.id, "yes" if c.test_mode else "no", str(c.revision), paused,
                       str(health.open_dead_letters.get(c.id, 0)))
    orphans = health.open_dead_letters.get(None, 0)
    ctable.add_row("(no connection)", "-", "-", "-", f"[red]{orphans}[/]" if orphans else "0")
    out.print(ctable)
    if health.orphan_groups:
        table = Table("cause", "open", "last", "example",
                      title="open dead letters of no connection (sweepers, beat's tasks)")
        for g in health.orphan_groups:
            last = f"{g.last:%Y-%m-%d %H:%M}" if g.last else "-"
            table.add_row(escape(g.key), str(g.count), last, escape(g.sample[:80]))
        out.print(table)


def _deliveries(health: Health) -> None:
    from tasks.maintenance.health import span

    table = Table("connection", "pending", "held", "running", title="order events waiting")
    for conn, buckets in sorted(health.deliveries.items()):
        cells = []
        for name in ("pending", "held", "running"):
            b = buckets[name]
            age = f", oldest {span(b.oldest_seconds)}" if b.oldest_seconds is not None else ""
            cells.append(f"{b.count}{age}")
        table.add_row(conn, *cells)
    out.print(table if health.deliveries else "order events waiting: none")


def _apis(conns: Sequence[Connection]) -> None:
    api_table = Table("connection", "API", "circuit", "budget left", "note")
    for c in conns:
        for api, breaker, rate in api_states(c.id):
            note = breaker.get("last_error", "")[:60] if breaker["state"] != "closed" else ""
            if rate.get("blocked_for"):
                note = f"waiting out Retry-After {rate['blocked_for']:.0f}s"
            left = f"{rate['left']}/{rate['limit']}" if "limit" in rate and "left" in rate else "-"
            api_table.add_row(c.id, api, breaker["state"], left, note)
    out.print(api_table)


def api_states(connection_id: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(API, breaker state, rate-limit state) per external API of one connection, as every
    worker sees them (the state lives in Redis)."""
    import clients

    try:
        conn = runtime.connection(connection_id)
        plenty = clients.build_plentyone(conn, runtime.redis_client())
        spocc = clients.build_spocc(conn, runtime.redis_client())
    except (ConfigError, SecretKeyError, ValueError):
        return []
    try:
        p = plenty.state()
        rows = [
            ("plentyone writes", p["breaker"], p["writes"]),
            ("plentyone reads", p["breaker"], p["reads"]),
        ]
        rows += [(f"spocc {api}", st["breaker"], st["rate"]) for api, st in spocc.state().items()]
        return rows
    finally:
        plenty.close()
        spocc.close()


def run_checks(only: str | None = None) -> list[Finding]:
    s = runtime.settings()
    findings: list[Finding] = []
    try:
        current = migrate.current_revision(s.database_url)
        head = migrate.head_revision(s.database_url)
        findings.append(Finding("database", True, "reachable"))
        findings.append(
            Finding(
                "database schema",
                current == head,
                f"at {current}"
                + ("" if current == head else f", newest is {head}: run `spocc db upgrade`"),
            )
        )
    except SQLAlchemyError as exc:
        findings.append(
            Finding("database", False, f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
        )
        return findings
    broker_ok = False
    try:
        runtime.redis_client().ping()
        findings.append(Finding("broker", True, "reachable"))
        broker_ok = True
    except (redis.RedisError, RuntimeError) as exc:
        findings.append(Finding("broker", False, str(exc)))
    if current == head:
        with runtime.db() as session:
            ids = config_store.connection_ids(session)
            if only is not None:
                if only not in ids:
                    findings.append(Finding(f"connection {only}", False, "not configured"))
                ids = [only] if only in ids else []
            elif not ids:
                findings.append(
                    Finding("configuration", False, "no connection: `spocc config apply FILE`")
                )
            for conn_id in ids:
                try:
                    conn = config_store.load(session, runtime.secret_box(), conn_id)
                    findings.append(Finding(f"connection {conn_id}", True, "configuration valid"))
                    if broker_ok:
                        findings.extend(api_findings(conn))
                except ConfigError as exc:
                    for line in exc.errors:
                        findings.append(Finding(f"connection {conn_id}", False, line))
                except SecretKeyError as exc:
                    findings.append(Finding(f"connection {conn_id}", False, str(exc)))
    return findings


def api_findings(conn: ConnectionConfig) -> list[Finding]:
    """Credentials and every mapped id, asked of both APIs (the clients share tokens and
    rate limits through Redis, so a check never costs a worker its budget)."""
    import clients
    from clients.integration_check import check_connection

    try:
        plenty = clients.build_plentyone(conn, runtime.redis_client(), priority="orders")
        spocc = clients.build_spocc(conn, runtime.redis_client(), priority="orders")
    except ValueError as exc:
        return [Finding(f"connection {conn.id}", False, str(exc))]
    try:
        found = [Finding(f.item, f.ok, f.detail) for f in check_connection(conn, plenty, spocc)]
        if all(f.ok for f in found):
            found.extend(_unmapped_stores(conn, spocc))
            found.extend(_unmapped_order_sources(conn, plenty))
        return found
    finally:
        plenty.close()
        spocc.close()


def _unmapped_stores(conn: ConnectionConfig, spocc: Any) -> list[Finding]:
    from clients.errors import ClientError
    from tasks.catalogue.control import unmapped_channel_stores

    try:
        stores = unmapped_channel_stores(conn, spocc)
    except ClientError as exc:
        return [Finding(f"connection {conn.id}: channel stores", False, str(exc))]
    if not stores:
        return []
    return [
        Finding(
            f"connection {conn.id}: mappings.warehouses",
            True,
            f"SPoCC channel store(s) {', '.join(map(str, stores))} have no warehouse "
            "mapped: their stock is not synced",
            warning=True,
        )
    ]


def _unmapped_order_sources(conn: ConnectionConfig, plenty: Any) -> list[Finding]:
    """Referrers and warehouses PlentyONE has but the mappings do not: an order from one of
    them is held with that cause rather than registered."""
    from clients.errors import ClientError
    from schemas.connection import referrer_key

    try:
        referrers = {referrer_key(r["id"]) for r in plenty.referrers()}
        warehouses = {int(w["id"]) for w in plenty.warehouses()}
    except ClientError as exc:
        return [Finding(f"connection {conn.id}: referrers and warehouses", False, str(exc))]
    found = []
    unmapped_refs = [
        f"{float(r):g}" for r in sorted(referrers - set(conn.mappings.markets), key=float)
    ]
    if unmapped_refs:
        found.append(
            Finding(
                f"connection {conn.id}: mappings.markets",
                True,
                f"orders from referrer(s) {', '.join(unmapped_refs)} will be held "
                "(no SPoCC referrer mapped)",
                warning=True,
            )
        )
    mapped = {w.warehouse_id for w in conn.mappings.warehouses}
    unmapped_wh = sorted(warehouses - mapped)
    if unmapped_wh:
        found.append(
            Finding(
                f"connection {conn.id}: mappings.warehouses",
                True,
                f"orders from warehouse(s) {', '.join(map(str, unmapped_wh))} will "
                "be held (no channel store mapped)",
                warning=True,
            )
        )
    return found


@click.command()
@click.option("--connection", "connection_id", default=None, help="Check only this connection.")
def check(connection_id: str | None) -> None:
    """Configuration valid, database and broker reachable, credentials accepted, every
    mapped id present in PlentyONE and SPoCC."""
    ensure_broker_soft()
    findings = run_checks(connection_id)
    # One line per finding, never truncated: operators grep it and CI logs keep it whole.
    for f in findings:
        mark = "[yellow]warn[/]" if f.warning else "[green]ok  [/]" if f.ok else "[red]FAIL[/]"
        out.print(f"{mark} {escape(f.item)}: {escape(f.detail)}", soft_wrap=True)
    if not all(f.ok for f in findings):
        raise click.exceptions.Exit(1)


def ensure_broker_soft() -> None:
    """Like ensure_broker, but a missing broker is a finding of `check`, not an abort."""

    try:
        ensure_broker()
    except click.exceptions.Exit:
        pass
