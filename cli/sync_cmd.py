"""`spocc sync PROCESS` (a run now, with a progress bar) and `spocc pause|resume CONNECTION`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

import click
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from cli.console import fail, out
from schemas.config import PROCESSES
from store import config_store
from store.catalogue_models import SyncUnit
from store.models import SyncRun
from tasks.catalogue import control, waits
from tasks.catalogue.runs import QUEUED, settled
from workers import runtime

PROCESS_NAMES = [p for p in PROCESSES if p != "order_status"]


def _process(value: str) -> str:
    name = value.replace("-", "_")
    if name not in PROCESS_NAMES:
        fail(f"unknown process {value!r}; one of {', '.join(PROCESS_NAMES)}")
    return name


def _connection(given: str | None) -> str:
    with runtime.db() as session:
        ids = config_store.connection_ids(session)
    if given is not None:
        if given not in ids:
            fail(f"unknown connection {given!r}")
        return given
    if len(ids) != 1:
        fail("several connections (or none): choose one with --connection")
    return ids[0]


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {value!r} is not a date (YYYY-MM-DD or an ISO date-time)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(run_id: int) -> SyncRun:
    with runtime.db() as session:
        return session.get_one(SyncRun, run_id)


def _run_locally(connection_id: str, run_id: int) -> None:
    """Planner and units in this process, one after another (no workers needed)."""
    from clients.errors import RateLimitTimeout
    from tasks.catalogue.leases import new_owner, release_unit
    from tasks.catalogue.planner import plan_slice
    from tasks.catalogue.unit import run_unit

    queue: list[tuple[str, int, int]] = []

    def send(conn: str, run: int, unit: int) -> None:
        queue.append((conn, run, unit))

    done = False
    while not done or queue:
        try:
            if not done:
                done = plan_slice(connection_id, run_id, send, backlog=lambda: len(queue) * 0)
            while queue:
                conn, run, unit = queue[0]
                owner = new_owner(f"local-u{unit}")
                try:
                    run_unit(conn, run, unit, send, owner=owner)
                except RateLimitTimeout:
                    with runtime.db() as session:
                        release_unit(session, unit, owner, 0)
                    raise
                queue.pop(0)
        except RateLimitTimeout as exc:  # nothing else waits for this process: sleep
            time.sleep(max(1.0, exc.retry_after or 1.0))


class SyncProgress(Progress):
    """The bar takes the terminal's width, whatever it is; the counts go on a line of their
    own below it (folded, never cut)."""

    def __init__(self, console: Console) -> None:
        super().__init__(
            TextColumn("{task.description}"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            expand=True,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            yield Text(str(task.fields.get("counts", "")), overflow="fold")


def _watch(run_id: int, timeout: float) -> SyncRun:
    started = time.monotonic()
    deadline = started + timeout
    hinted = False
    next_why, waiting = started + 2, None
    with SyncProgress(out) as progress:
        bar = progress.add_task("planning", total=None, counts="")
        while True:
            run = _row(run_id)
            if (not hinted and run.status != QUEUED and "planner_at" not in run.options
                    and time.monotonic() - started > 15):
                hinted = True
                progress.console.print(
                    "[yellow]no worker has picked the run up yet: is a worker serving the "
                    "catalogue queue (`spocc worker -Q catalogue`)? Or use --local.[/]"
                )
            done = settled(run)
            if time.monotonic() >= next_why:  # what is ahead of it, every few seconds
                next_why = time.monotonic() + 5
                with runtime.db() as session:
                    waiting = waits.why(session, run)
            counts = control.run_counts(run) + (f"; {waiting}" if waiting else "")
            progress.update(
                bar,
                description=("in line" if run.status == QUEUED
                             else "syncing" if run.planned else "planning"),
                total=run.found if run.planned else None,
                completed=done,
                counts=counts,
            )
            if run.status not in ("running", QUEUED) or time.monotonic() > deadline:
                return run
            time.sleep(0.5)


def _report(run: SyncRun) -> None:
    style = "green" if run.status == "succeeded" else "yellow" if run.status == "running" else "red"
    out.print(f"run {run.id} [{style}]{run.status}[/]: {control.run_counts(run)}")
    if run.reason:
        out.print(f"  {run.reason}")
    if not run.options.get("dry_run"):
        return
    with runtime.db() as session:
        details = session.execute(
            select(SyncUnit.detail).where(SyncUnit.run_id == run.id).order_by(SyncUnit.seq)
        ).scalars()
        table = Table("would write", "what")
        shown = 0
        for detail in details:
            for key in ("would_write", "would_create"):
                items = detail.get(key) or {}
                pairs = items.items() if isinstance(items, dict) else ((i, "create") for i in items)
                for ident, what in pairs:
                    if shown < 50:
                        table.add_row(str(ident), str(what))
                    shown += 1
    out.print(f"dry run: nothing was written; {run.pushed} item(s) would be written")
    if shown:
        out.print(table)


@click.command()
@click.argument("process")
@click.option("--connection", "connection_id", help="Connection id (default: the only one).")
@click.option("--full", is_flag=True, help="The whole catalogue, not only what changed.")
@click.option("--since", "since", help="Backfill what changed since this date (UTC).")
@click.option("--variation", help="Only this SPoCC ID (11 digits).")
@click.option("--dry-run", is_flag=True, help="Compute and report what would be written.")
@click.option("--local", is_flag=True, help="Run here, without workers.")
@click.option("--no-wait", is_flag=True, help="Start the run and return.")
@click.option("--timeout", default=6 * 3600.0, show_default=True, help="Seconds to watch.")
def sync(
    process: str,
    connection_id: str | None,
    full: bool,
    since: str | None,
    variation: str | None,
    dry_run: bool,
    local: bool,
    no_wait: bool,
    timeout: float,
) -> None:
    """Run a catalogue PROCESS now: the whole catalogue, a backfill or one variation."""
    name = _process(process)
    conn = _connection(connection_id)
    if variation is not None and not (variation.isdigit() and len(variation) == 11):
        fail(f"--variation {variation!r} is not a SPoCC ID (11 digits)")
    try:
        with runtime.db() as session:
            run = control.start_run(
                session,
                conn,
                name,
                full=full,
                since=_since(since),
                variation=variation,
                dry_run=dry_run,
                wait=not local,  # a local run cannot wait in line for the workers' one
            )
            run_id, status, reason = run.id, run.status, run.reason
    except control.ControlError as exc:
        fail(str(exc))
    if status == "skipped":
        fail(f"not started: {reason}")
    out.print(f"run {run_id}: {name} on {conn}" + (" (dry run)" if dry_run else ""))
    if status == QUEUED:
        out.print(f"  {reason}; it starts when that run closes")
    elif local:
        _run_locally(conn, run_id)
    else:
        from tasks.catalogue.tasks import start

        start(conn, run_id)
    if no_wait:
        return
    final = _watch(run_id, timeout)
    _report(final)
    if final.status not in ("succeeded", "running", QUEUED):
        raise click.exceptions.Exit(1)


def _pause_command(paused: bool) -> click.Command:
    verb = "pause" if paused else "resume"

    @click.command(name=verb)
    @click.argument("connection_id")
    @click.option("--process", help="Only this process.")
    def command(connection_id: str, process: str | None) -> None:
        name = _process(process) if process else None
        try:
            with runtime.db() as session:
                control.set_paused(session, connection_id, paused, name)
        except control.ControlError as exc:
            fail(str(exc))
        what = f"{name} of {connection_id}" if name else connection_id
        out.print(f"{what}: scheduling {'paused' if paused else 'resumed'}")

    command.help = (
        f"{verb.capitalize()} beat's scheduling of a connection (or one of its processes)."
    )
    return command


pause = _pause_command(True)
resume = _pause_command(False)
