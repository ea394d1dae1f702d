"""`spocc status` (what is running, queued and failing) and `spocc check` (is it set up right)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
import redis
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cli.console import out
from cli.services import ensure_broker
from schemas.config import ConfigError, ConnectionConfig
from store import config_store, migrate
from store.models import Connection, DeadLetter
from store.secrets import SecretKeyError
from workers import runtime
from workers.settings import QUEUES


@dataclass
class Finding:
    item: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but an operator should know (e.g. a store left unmapped)


def queue_depths(client: redis.Redis) -> dict[str, int]:
    return {q: int(client.llen(q)) for q in QUEUES}


@click.command()
@click.option(
    "--connection",
    "connection_id",
    default=None,
    help="Only this connection's sync processes (default: every connection's).",
)
def status(connection_id: str | None) -> None:
    """Workers, queues, connections, dead letters, circuits and each sync process."""
    ensure_broker()
    from workers.celery_app import app

    client = runtime.redis_client()
    table = Table("queue", "waiting")
    for q, n in queue_depths(client).items():
        table.add_row(q, str(n))
    out.print(table)
    replies = app.control.ping(timeout=1.0) or []
    out.print(f"workers alive: {', '.join(sorted(k for r in replies for k in r)) or 'none'}")
    out.print(beat_line())
    with runtime.db() as session:
        conns = session.execute(select(Connection).order_by(Connection.id)).scalars().all()
        open_dl = dict(
            session.execute(
                select(DeadLetter.connection_id, func.count())
                .where(DeadLetter.status == "open")
                .group_by(DeadLetter.connection_id)
            ).all()
        )
    ctable = Table("connection", "test mode", "revision", "scheduling", "open dead letters")
    for c in conns:
        paused = (
            "paused"
            if c.paused
            else (f"paused: {', '.join(c.paused_processes)}" if c.paused_processes else "on")
        )
        ctable.add_row(
            c.id, "yes" if c.test_mode else "no", str(c.revision), paused, str(open_dl.get(c.id, 0))
        )
    out.print(ctable)
    api_table = Table("connection", "API", "circuit", "budget left", "note")
    for c in conns:
        for api, breaker, rate in api_states(c.id):
            note = breaker.get("last_error", "")[:60] if breaker["state"] != "closed" else ""
            if rate.get("blocked_for"):
                note = f"waiting out Retry-After {rate['blocked_for']:.0f}s"
            left = f"{rate['left']}/{rate['limit']}" if "limit" in rate and "left" in rate else "-"
            api_table.add_row(c.id, api, breaker["state"], left, note)
    out.print(api_table)
    from tasks.catalogue.control import status_table

    with runtime.db() as session:
        for c in conns:
            if connection_id in (None, c.id):
                out.print(status_table(session, c.id))


def beat_line() -> str:
    """Beat's last tick, from its heartbeat in SQL (workers/beat_health.py)."""
    from datetime import UTC, datetime

    from workers import beat_health

    last = beat_health.last_tick()
    if last is None:
        return "beat: never ticked"
    age = (datetime.now(UTC) - last).total_seconds()
    return (f"beat: last tick {age:.0f} s ago ({last:%Y-%m-%d %H:%M:%S} UTC, "
            f"{beat_health.last_holder()})")


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
