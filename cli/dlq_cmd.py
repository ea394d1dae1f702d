"""`spocc dlq list|show|replay|discard`: the failures an operator must act on."""

from __future__ import annotations

import json

import click
from rich.table import Table

from cli.console import fail, out
from cli.services import ensure_broker
from store import dead_letters
from store.models import DeadLetter
from workers import runtime


@click.group()
def dlq() -> None:
    """Dead letters: tasks that failed for good."""


@dlq.command("list")
@click.option(
    "--status",
    default="open",
    show_default=True,
    type=click.Choice(["open", "replayed", "resolved", "discarded", "all"]),
)
@click.option("--limit", default=50, show_default=True)
def list_(status: str, limit: int) -> None:
    """List dead letters, newest first."""
    with runtime.db() as session:
        rows = dead_letters.listing(session, None if status == "all" else status, limit)
    table = Table("id", "created", "connection", "task", "attempts", "status", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
            r.connection_id or "-",
            r.task_name,
            str(r.attempts),
            r.status,
            r.last_error.splitlines()[0][:80],
        )
    out.print(table if rows else f"no {status} dead letters")


@dlq.command()
@click.argument("dead_letter_id", type=int)
def show(dead_letter_id: int) -> None:
    """Everything stored about one dead letter."""
    with runtime.db() as session:
        r = session.get(DeadLetter, dead_letter_id)
        if r is None:
            fail(f"dead letter {dead_letter_id} does not exist")
        fields = {
            "id": r.id,
            "status": r.status,
            "connection": r.connection_id,
            "task": r.task_name,
            "task_id": r.task_id,
            "queue": r.queue,
            "attempts": r.attempts,
            "replays": r.replay_count,
            "created": r.created_at.isoformat(),
            "args": json.dumps(r.args),
            "kwargs": json.dumps(r.kwargs),
        }
    for k, v in fields.items():
        out.print(f"[bold]{k:>10}[/] {v}", markup=True, highlight=False)
    out.print("[bold]last error[/]")
    out.print(r.last_error, markup=False)


@dlq.command()
@click.argument("dead_letter_ids", type=int, nargs=-1, required=True)
def replay(dead_letter_ids: tuple[int, ...]) -> None:
    """Send each dead letter's task again (acts on current state; idempotent)."""
    ensure_broker()
    from workers.replay import NotReplayable
    from workers.replay import replay as do_replay

    for dl_id in dead_letter_ids:
        try:
            with runtime.db() as session:
                task_id = do_replay(session, dl_id)
        except NotReplayable as exc:
            fail(str(exc))
        out.print(f"dead letter {dl_id} replayed as task {task_id}")


@dlq.command()
@click.argument("dead_letter_ids", type=int, nargs=-1, required=True)
def discard(dead_letter_ids: tuple[int, ...]) -> None:
    """Close dead letters without running them again."""
    from workers.replay import NotReplayable
    from workers.replay import discard as do_discard

    for dl_id in dead_letter_ids:
        try:
            with runtime.db() as session:
                do_discard(session, dl_id)
        except NotReplayable as exc:
            fail(str(exc))
        out.print(f"dead letter {dl_id} discarded")
