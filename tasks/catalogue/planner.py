"""The planner: pages SPoCC (or PlentyONE) for a run's keys and fans them out as unit tasks.

It streams: one page at a time, units written to `sync_units` and sent after the commit,
never the whole catalogue in memory. It works in slices of a few seconds and sends itself
again to continue (cursor in `sync_runs.options`), so a planner over a million variations
never outlives a task time limit or the broker's visibility timeout, and it pauses while its
connection has `share.queued` units waiting (back-pressure, per connection).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import SyncRun, utcnow
from tasks.catalogue import links, runs, state
from tasks.catalogue.context import Context, context
from tasks.catalogue.process import Triage
from tasks.catalogue.registry import DELTA, PROCESSES, tier
from workers import runtime

log = logging.getLogger(__name__)

SLICE_SECONDS = float(os.environ.get("SPOCC_PLANNER_SLICE_SECONDS", "30"))
OVERLAP = timedelta(minutes=2)
DEEP_EVERY = timedelta(days=float(os.environ.get("SPOCC_FULL_DEEP_EVERY_DAYS", "7")))

# (connection_id, run_id, unit_id) → enqueue; the Celery task or an in-process runner
Send = Callable[[str, int, int], None]


def _set_options(run: SyncRun, **changes: Any) -> None:
    run.options = {**(run.options or {}), **changes}  # a new dict: SQLAlchemy sees the change


def _since(session: Session, run: SyncRun) -> str | None:
    """A delta lists what changed since the last successful run's cut-off, minus an overlap,
    so nothing between two slots is skipped, even after failed runs."""
    # a full run pushed everything as of its cut-off: as good a start as a delta's
    also = ("stock_full",) if run.process == "stock_delta" else ()
    previous = runs.last_success(session, run.connection_id, run.process, *also)
    if previous is None:
        return None
    mark = previous.cutoff
    start = datetime.fromisoformat(mark.replace("Z", "+00:00")) if mark else previous.started_at
    return (start - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plan_slice(
    connection_id: str,
    run_id: int,
    send: Send,
    *,
    deadline: float | None = None,
    backlog: Callable[[], int] | None = None,
) -> bool:
    """Plan as much of the run as fits in this slice; True when planning is complete.

    Back-pressure is the connection's own: it pauses while `share.queued` of its units
    served no later than this run's (its tier and the more urgent ones) wait to start, and
    while other connections have units waiting too, its fair part of that
    (`runs.fair_room`). So a connection with thousands of units to go puts a few at a time
    in the queue, and another connection's units wait behind those few, not behind all of
    them; and a delta's planner does not wait for an image run's backlog to drain."""
    deadline = deadline if deadline is not None else time.monotonic() + SLICE_SECONDS
    ctx = context(connection_id)
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "running" or run.planned:
            return True
        process = PROCESSES[run.process]
        if "since" not in (run.options or {}):
            explicit = (run.options or {}).get("since_date")
            delta = run.process in DELTA or (
                # without "complete import", item import takes only what changed
                run.process == "item_import" and not ctx.conn.mappings.item_import.complete_import
            )
            delta = delta and not (run.options or {}).get("full")
            _set_options(run, since=explicit or (_since(session, run) if delta else None))
        if run.process == "stock_full" and "deep" not in run.options:
            _set_options(run, **_full_run_mode(session, run))
        _set_options(run, planner_at=utcnow().isoformat())
    options = run.options
    scan = process.link_scan and (run.process != "stock_full" or options.get("deep"))
    if scan and not options.get("variation") and not options.get("linked"):
        if not _scan_links(ctx, run_id, deadline):
            return False
    if options.get("touched_since") and not options.get("touched_done"):
        if not _scan_touched(ctx, run_id, deadline):
            return False
    # a caller that counts its own backlog plans as if alone
    others: Callable[[], int] = partial(int, 0)
    if backlog is None:
        backlog = partial(runs.waiting_units, connection_id, tier(run.process))
        others = partial(runs.others_waiting, connection_id, tier(run.process))
    while True:
        if backlog() >= runs.fair_room(ctx.conn.share.queued, others()):
            return False
        if not _plan_page(ctx, run_id, send):
            return True
        if time.monotonic() > deadline:
            return False


def _full_run_mode(session: Session, run: SyncRun) -> dict[str, Any]:
    """A full run compares every variation with PlentyONE ("deep") when asked (`--full`), for
    one variation, or when the last deep run is older than DEEP_EVERY. In between it re-reads
    only what changed: SPoCC values unlike their last push, and the variations PlentyONE
    stamped as changed (`relatedUpdatedAt`) since the last full run finished."""
    if run.options.get("full") or run.options.get("variation"):
        return {"deep": True}
    deep = session.execute(
        select(SyncRun)
        .where(
            SyncRun.connection_id == run.connection_id,
            SyncRun.process == "stock_full",
            SyncRun.status == runs.CLOSED_OK,
            SyncRun.options["deep"].as_boolean().is_(True),
            SyncRun.started_at > utcnow() - DEEP_EVERY,
        )
        .limit(1)
    ).scalar_one_or_none()
    previous = runs.last_success(session, run.connection_id, "stock_full")
    if deep is None or previous is None or previous.finished_at is None:
        return {"deep": True}
    since = previous.finished_at.astimezone(UTC).isoformat()
    return {"deep": False, "touched_since": since}


def _scan_touched(ctx: Context, run_id: int, deadline: float) -> bool:
    """Record the variations PlentyONE changed since the last full run (250 a read)."""
    while True:
        with runtime.db() as session:
            options = session.get_one(SyncRun, run_id).options
        page = int(options.get("touched_page", 1))
        ids, last = ctx.plenty.touched_variations_page(options["touched_since"], page)
        with runtime.db() as session:
            run = session.get_one(SyncRun, run_id)
            if int(run.options.get("touched_page", 1)) == page:  # not done meanwhile
                kind = runs.touched_kind(run_id)
                known = state.load(session, ctx.id, kind, [str(i) for i in ids])
                for variation_id in ids:
                    state.save(session, ctx.id, kind, str(variation_id), "-", loaded=known)
                _set_options(run, touched_page=page + 1, touched_done=last)
        if last:
            return True
        if time.monotonic() > deadline:
            return False


def _scan_links(ctx: Context, run_id: int, deadline: float) -> bool:
    barcode = ctx.conn.mappings.item_import.spocc_id_barcode_type_id
    while True:
        with runtime.db() as session:
            page = int(session.get_one(SyncRun, run_id).options.get("link_page", 1))
        # linking a page twice (a second planner message) records the same links
        _count, last = links.scan_page(ctx.plenty, ctx.id, barcode, page)
        with runtime.db() as session:
            run = session.get_one(SyncRun, run_id)
            _set_options(run, link_page=max(page + 1, int(run.options.get("link_page", 1))))
            _set_options(run, linked=bool(run.options.get("linked")) or last)
        if last:
            return True
        if time.monotonic() > deadline:
            return False


def _plan_page(ctx: Context, run_id: int, send: Send) -> bool:
    """Plan the next page; False when there is no next page (the run is fully planned)."""
    with runtime.db() as session:
        run = session.get_one(SyncRun, run_id)
        process = PROCESSES[run.process]
        page_no = int(run.options.get("page", 1))
    # fetched before taking the run row's lock, which finishing units need for their counts
    page = process.page(ctx, run, page_no)
    with runtime.db() as session:
        run = session.get_one(SyncRun, run_id, with_for_update=True)
        if int(run.options.get("page", 1)) != page_no or run.planned:
            return not run.planned  # another planner message planned this page meanwhile
        if run.cutoff is None and page.server_time is not None:
            run.cutoff = page.server_time
        size = process.unit_size
        keys, unchanged = page.keys, 0
        if isinstance(process, Triage):
            keys, unchanged = process.triage(ctx, session, run, page)
        # keys left over from earlier pages come first: units are filled across pages, so
        # a delta's few changes per page make full units (and full bulk writes), not many
        # small ones; what does not fill a unit waits for the next page (or the last)
        keys = [*run.options.get("carry", []), *keys]
        rest = len(keys) % size if not page.last else 0
        carry, keys = keys[len(keys) - rest :], keys[: len(keys) - rest]
        batches = [
            (page_no * 10_000 + j, keys[i : i + size])
            for j, i in enumerate(range(0, len(keys), size))
        ]
        fresh = runs.add_units(session, run, batches)
        new_ids = [u.id for u in fresh]
        run.units += len(fresh)
        # the page and the cursor commit together: a page is counted once
        run.found += len(page.keys)
        run.unchanged += unchanged
        _set_options(run, page=page_no + 1, carry=carry, planner_at=utcnow().isoformat())
        if page.last:
            runs.mark_planned(session, run.id)
    for unit_id in new_ids:
        send(ctx.id, run_id, unit_id)
    return not page.last


def give_up(run_id: int, reason: str) -> None:
    """The planner failed for good: the run is failed; units already sent still run."""
    with runtime.db() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "running":
            return
        run.status = "failed"
        run.reason = reason[:2000]
        run.finished_at = utcnow()
