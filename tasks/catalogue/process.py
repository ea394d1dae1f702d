"""What every catalogue process provides to the planner and the unit task.

A process lists its keys page by page (`page`, resumable: the same page number gives the same
keys within a run) and pushes one unit's keys (`push`). The planner, the unit task, the
sweeper and the counting are the same for all of them (`planner.py`, `unit.py`, `runs.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from marshmallow import Schema
from sqlalchemy.orm import Session

from clients.errors import PermanentError
from schemas.catalogue_views import key_only
from store.models import SyncRun
from tasks.catalogue.context import Context
from tasks.catalogue.runs import UnitResult
from workers import runtime


@dataclass
class Page:
    keys: list[str]
    last: bool
    server_time: str | None = None
    total: int | None = None
    # the listed records themselves, for a process that triages in the planner
    items: list[dict[str, Any]] | None = None


@dataclass
class Work:
    """A unit as its process sees it: its keys and run (as read when it started).

    A process reads and records in short transactions of its own (`db()`), never open while
    it calls an API: re-read, decide, commit, call, record.
    """

    ctx: Context
    run: SyncRun
    keys: list[str]

    @staticmethod
    def db() -> AbstractContextManager[Session]:
        return runtime.db()

    @property
    def dry_run(self) -> bool:
        return bool(self.run.options.get("dry_run"))

    @property
    def full(self) -> bool:
        return bool(self.run.options.get("full"))


class SplitUnit(Exception):
    """A bulk write failed for good: the unit is redone in parts, so that only the keys at
    fault fail (and become dead letters). When the answer names records (`culprits`, the
    unit's keys it is about), each of those is redone alone and the rest together; when it
    names none, the unit is halved once — an error every key would meet (a wrong mapping)
    then costs two more calls, not one per key."""

    def __init__(
        self,
        cause: PermanentError,
        result: UnitResult | None = None,
        culprits: Sequence[str] = (),
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.result = result or UnitResult()
        self.culprits = list(culprits)


_VARIATION = re.compile(r"\bvariations? (?:id )?(\d+)", re.IGNORECASE)


def named_keys(exc: PermanentError, by_variation: Mapping[int, str]) -> list[str]:
    """The unit's keys whose PlentyONE variation the error answer names."""
    named = {int(m) for m in _VARIATION.findall(f"{exc.message} {exc.body!r}")}
    return sorted({by_variation[v] for v in named if v in by_variation})


class Process(Protocol):
    name: str
    unit_size: int
    # a full run first links the variations PlentyONE already has (one read per 250)
    link_scan: bool

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page: ...

    def push(self, work: Work) -> UnitResult: ...


@runtime_checkable
class Triage(Protocol):
    """Optional: the planner hands a page's records to `triage`, which answers the keys that
    need a unit and how many it found unchanged (counted at once, no task sent)."""

    def triage(
        self, ctx: Context, session: Session, run: SyncRun, page: Page
    ) -> tuple[list[str], int]: ...


@dataclass
class SpoccListing:
    """A SPoCC list route paged the contract's way: page 1 fixes the window's end (its
    `serverTime`), every later page — and a resumed planner — sends it as `changedBefore`."""

    api: str
    path: str
    schema: type[Schema]
    key: str
    page_size: int = 1000
    changed_since: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    full_items: bool = False

    def page(self, ctx: Context, run: SyncRun, page: int) -> Page:
        params: dict[str, Any] = dict(self.params, page=page, pageSize=self.page_size)
        if self.changed_since:
            params["changedSince"] = run.options.get("since")
            params["changedBefore"] = run.cutoff
        schema = self.schema if self.full_items else key_only(self.key)
        env = ctx.spocc.page(self.api, self.path, schema, params)
        return Page(
            keys=[str(item[self.key]) for item in env["items"]],
            last=bool(env["isLastPage"]),
            server_time=env.get("serverTime"),
            total=env.get("totalCount"),
            items=list(env["items"]) if self.full_items else None,
        )
