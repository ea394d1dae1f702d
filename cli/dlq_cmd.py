"""`spocc dlq …`: the failures an operator must act on, and `spocc audit`: who acted.

The same actions as the console's dead-letter inbox (`workers.dlq_actions`), each audited
with its actor ($USER or --actor).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from cli.actor import actor_of, actor_option
from cli.console import fail, out
from cli.services import ensure_broker
from store import audit as audit_store
from workers import dlq_actions, runtime
from workers.dlq_actions import ActionError, LetterFilter

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str | None) -> timedelta | None:
    if value is None:
        return None
    match = _AGE.match(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r}: a number and s, m, h or d (e.g. 30m, 2h, 3d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _narrowing(prefix: str) -> list[Callable[..., Any]]:
    return [
        click.option("--connection", "connection_id", default=None,
                     help=f"{prefix}only this connection's (`-`: those of no connection)."),
        click.option("--task", default=None, help=f"{prefix}only this task."),
        click.option("--older-than", default=None, help=f"{prefix}created before (2h, 3d)."),
        click.option("--newer-than", default=None, help=f"{prefix}created within (30m)."),
    ]


def _with(options: list[Callable[..., Any]], func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(options):
        func = option(func)
    return func


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    status = click.option("--status", default="open", show_default=True,
                          type=click.Choice([*dlq_actions.STATUSES, "all"]))
    return _with([status, *_narrowing("")], func)


def make_filter(
    status: str, connection_id: str | None, task: str | None, older: str | None, newer: str | None
) -> LetterFilter:
    return LetterFilter(
        status=None if status == "all" else status,
        connection_id=connection_id,
        task=task,
        older_than=parse_age(older),
        newer_than=parse_age(newer),
    )


@click.group()
def dlq() -> None:
    """Dead letters: tasks that failed for good."""


@dlq.command("list")
@filter_options
@click.option("--limit", default=50, show_default=True)
def list_(
    status: str,
    connection_id: str | None,
    task: str | None,
    older_than: str | None,
    newer_than: str | None,
    limit: int,
) -> None:
    """List dead letters, newest first."""
    flt = make_filter(status, connection_id, task, older_than, newer_than)
    with runtime.db() as session:
        rows = dlq_actions.letters(session, flt, limit)
    table = Table("id", "created", "connection", "task", "attempts", "status", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            r.connection_id or "-",
            r.task_name,
            str(r.attempts),
            r.status,
            escape(r.last_error.splitlines()[0][:80]),
        )
    out.print(table if rows else f"no {status} dead letters")


@dlq.command()
@filter_options
def groups(
    status: str,
    connection_id: str | None,
    task: str | None,
    older_than: str | None,
    newer_than: str | None,
) -> None:
    """Dead letters grouped by cause (task + error type), the largest group first."""
    flt = make_filter(status, connection_id, task, older_than, newer_than)
    with runtime.db() as session:
        found = dlq_actions.groups(session, flt)
    if not found:
        out.print(f"no {status} dead letters")
        return
    table = Table("group", "letters", "connections", "first", "last", "example")
    for g in found:
        table.add_row(
            escape(g.key),
            str(g.count),
            ", ".join(sorted(g.connections)),
            f"{g.first:%Y-%m-%d %H:%M}" if g.first else "-",
            f"{g.last:%Y-%m-%d %H:%M}" if g.last else "-",
            escape(g.sample[:80]),
        )
    out.print(table)
    out.print("replay one group: spocc dlq replay --group GROUP")


@dlq.command()
@click.argument("dead_letter_id", type=int)
def show(dead_letter_id: int) -> None:
    """One dead letter: arguments, attempts, the last HTTP exchange, what operators did."""
    try:
        with runtime.db() as session:
            d = dlq_actions.detail(session, dead_letter_id)
    except ActionError as exc:
        fail(str(exc))
    r = d.letter
    fields = {
        "id": r.id,
        "status": r.status,
        "connection": r.connection_id or "-",
        "task": r.task_name,
        "task_id": r.task_id,
        "queue": r.queue,
        "subject": r.subject or "-",
        "cause": dlq_actions.cause_key(r),
        "attempts": r.attempts,
        "replays": r.replay_count,
        "created": r.created_at.isoformat(),
        "last failed": r.last_failed_at.isoformat() if r.last_failed_at else "-",
        "resolution": r.resolution or "-",
        "args": json.dumps(r.args),
        "kwargs": json.dumps(r.kwargs),
    }
    for k, v in fields.items():
        out.print(f"[bold]{k:>11}[/] {escape(str(v))}")
    out.print("[bold]last error[/]")
    out.print(r.last_error, markup=False, soft_wrap=True)
    if d.attempts:
        table = Table("#", "task id", "started", "outcome", "ms", "error", title="attempts")
        for a in d.attempts:
            table.add_row(
                str(a.number),
                a.task_id[:8],
                f"{a.started_at:%Y-%m-%d %H:%M:%S}",
                a.outcome,
                f"{a.duration_ms:.0f}" if a.duration_ms is not None else "-",
                escape((a.error or "").splitlines()[0][:80] if a.error else ""),
            )
        out.print(table)
    x = d.exchange
    if x is None:
        out.print("[bold]last HTTP exchange[/] none recorded")
    else:
        status = str(x.status) if x.status is not None else f"no answer ({x.error})"
        out.print(
            f"[bold]last HTTP exchange[/] {x.api} {x.method} {escape(x.route)} → "
            f"{escape(status)} in {x.duration_ms:.0f} ms"
        )
        cut = " (cut)" if x.body_truncated else ""
        out.print(f"[bold]answer body{cut}, scrubbed[/]")
        out.print(x.body or "(empty)", markup=False, soft_wrap=True)
    for e in d.audit:
        out.print(
            f"[bold]audit[/] {e.at:%Y-%m-%d %H:%M:%S} {escape(e.actor)} {e.action}"
            + (f": {escape(e.reason)}" if e.reason else "")
        )


def group_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """IDs, or `--group CAUSE` narrowed by connection, task and age (as `dlq groups`)."""
    ids = click.argument("dead_letter_ids", type=int, nargs=-1)
    group = click.option("--group", "group_key", default=None, help="Every open letter of "
                         "this cause (task:ErrorType, as `spocc dlq groups` shows it).")
    return _with([ids, group, *_narrowing("With --group: ")], func)


def _selection(ids: tuple[int, ...], group_key: str | None, connection_id: str | None,
               task: str | None, older: str | None, newer: str | None) -> LetterFilter | None:
    """The filter of a --group action (None for ids); exactly one of the two is given."""
    if bool(ids) == bool(group_key):
        fail("give dead letter ids or --group GROUP (see `spocc dlq groups`)", 2)
    return make_filter("all", connection_id, task, older, newer) if group_key else None


@dlq.command()
@group_options
@click.option("--reason", default=None, help="Why (kept in the audit).")
@actor_option
def replay(
    dead_letter_ids: tuple[int, ...],
    group_key: str | None,
    connection_id: str | None,
    task: str | None,
    older_than: str | None,
    newer_than: str | None,
    reason: str | None,
    actor: str | None,
) -> None:
    """Send dead letters' tasks again (they act on current state; idempotent)."""
    flt = _selection(dead_letter_ids, group_key, connection_id, task, older_than, newer_than)
    ensure_broker()
    who = actor_of(actor)
    try:
        if group_key:
            with runtime.db() as session:
                sent = dlq_actions.replay_group(session, group_key, who, flt, reason)
        else:
            sent = []
            for dl_id in dead_letter_ids:
                with runtime.db() as session:
                    sent.append((dl_id, dlq_actions.replay_one(session, dl_id, who, reason)))
    except ActionError as exc:
        fail(str(exc))
    for dl_id, task_id in sent:
        out.print(f"dead letter {dl_id} replayed as task {task_id}")


def _close(status: str, ids: tuple[int, ...], group_key: str | None, reason: str,
           actor: str | None, *narrow: str | None) -> None:
    flt = _selection(ids, group_key, *narrow)
    try:
        with runtime.db() as session:
            if group_key:
                rows = dlq_actions.close_group(
                    session, group_key, actor_of(actor), reason, status, flt
                )
            else:
                rows = dlq_actions.close_many(session, ids, actor_of(actor), reason, status)
            closed = [r.id for r in rows]
    except ActionError as exc:
        fail(str(exc))
    for dl_id in closed:
        out.print(f"dead letter {dl_id} {status}")


def _closing_command(name: str, status: str, summary: str, reason_help: str) -> None:
    @dlq.command(name, help=summary)
    @group_options
    @click.option("--reason", required=True, help=reason_help)
    @actor_option
    def command(
        dead_letter_ids: tuple[int, ...],
        group_key: str | None,
        connection_id: str | None,
        task: str | None,
        older_than: str | None,
        newer_than: str | None,
        reason: str,
        actor: str | None,
    ) -> None:
        _close(status, dead_letter_ids, group_key, reason, actor,
               connection_id, task, older_than, newer_than)


_closing_command("discard", "discarded",
                 "Close dead letters (or a group) without running them again.",
                 "Why it is not run again (kept in the audit).")
_closing_command("resolve", "resolved",
                 "Close dead letters (or a group) as dealt with (fixed by hand, or by later work).",
                 "How it was dealt with (kept in the audit).")


@click.command()
@click.option("--limit", default=50, show_default=True)
@click.option("--actor", default=None, help="Only this actor's entries.")
@click.option("--subject", default=None, help="Only this subject (e.g. dead_letter:12).")
@click.option("--connection", "connection_id", default=None)
def audit(limit: int, actor: str | None, subject: str | None, connection_id: str | None) -> None:
    """What operators did, newest first."""
    with runtime.db() as session:
        rows = audit_store.recent(
            session, limit, actor=actor, subject=subject, connection_id=connection_id
        )
    table = Table("when", "actor", "action", "subject", "reason")
    for e in rows:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            escape(e.actor),
            e.action,
            escape(e.subject),
            escape(e.reason or ""),
        )
    out.print(table if rows else "no audit entries")
