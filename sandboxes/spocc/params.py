"""Query parameters, timestamps and the pagination envelope of the SPoCC contract."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import g, request

from sandboxes.spocc.errors import ApiError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

SPOCC_ID = re.compile(r"^\d{11}$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter", f"{name} is not an ISO-8601 date-time",
                       {"parameter": name}) from exc
    if moment.tzinfo is None:
        raise ApiError(400, "invalid_parameter", f"{name} must carry a time zone (Z or +hh:mm)",
                       {"parameter": name})
    return moment.astimezone(UTC)


def timestamp_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    return None if raw is None or raw == "" else parse_timestamp(raw, name)


def int_arg(name: str, default: int | None = None, low: int = 1, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ApiError(400, "invalid_parameter", f"{name} is required", {"parameter": name})
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer",
                       {"parameter": name}) from exc
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, "invalid_parameter", f"{name} must be {bound}", {"parameter": name})
    return value


def optional_int_arg(name: str) -> int | None:
    return None if request.args.get(name) in (None, "") else int_arg(name)


def page_args() -> tuple[int, int]:
    return int_arg("page", 1), int_arg("pageSize", DEFAULT_PAGE_SIZE, high=MAX_PAGE_SIZE)


def request_started() -> datetime:
    """The clock when this request began: `serverTime` is taken before any data is read, so
    whatever changes while a page is computed gets a later `changedAt` and is in the next delta."""
    started = g.get("started")
    if started is None:
        started = g.started = now()
    return started


def envelope(page: int, page_size: int, total: int, items: list[Any]) -> dict[str, Any]:
    page_count = max(1, math.ceil(total / page_size))
    return {
        "page": page,
        "pageSize": page_size,
        "totalCount": total,
        "pageCount": page_count,
        "isLastPage": page >= page_count,
        "serverTime": iso(request_started()),
        "items": items,
    }


def paged_list(rows: Sequence[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """The envelope for one page of an in-memory, already sorted list."""
    page, size = page_args()
    start = (page - 1) * size
    return envelope(page, size, len(rows), [render(r) for r in rows[start : start + size]])


def check_spocc_id(value: str) -> str:
    if not SPOCC_ID.match(value):
        raise ApiError(400, "invalid_spocc_id", "a SPoCC ID is exactly 11 digits",
                       {"spoccId": value})
    return value
