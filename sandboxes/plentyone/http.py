"""Request parsing and answer shapes shared by the PlentyONE sandbox routes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Request, jsonify, request
from flask.wrappers import Response


class ApiError(Exception):
    """An error answer: `{"error": {"code", "message"[, "key"]}}` with the HTTP status."""

    def __init__(self, status: int, message: str, key: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.key:
            body["key"] = self.key
        answer = jsonify({"error": body})
        answer.status_code = self.status
        for name, value in self.headers.items():
            answer.headers[name] = value
        return answer


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", "not_found")


def json_body(req: Request | None = None) -> Any:
    req = req or request
    if not req.data:
        return {}
    body = req.get_json(silent=True)
    if body is None:
        raise ApiError(400, "the body is not valid JSON", "invalid_json")
    return body


def as_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object", "validation_error")
    return body


def bulk_records(body: Any, limit: int) -> list[dict[str, Any]]:
    """A bulk route's records: a JSON array of objects, at most `limit` of them."""
    records = body if isinstance(body, list) else [body]
    if not all(isinstance(r, dict) for r in records):
        raise ApiError(422, "every record must be a JSON object", "validation_error")
    if len(records) > limit:
        raise ApiError(
            422, f"at most {limit} records per call, got {len(records)}", "too_many_records"
        )
    return records


def require(record: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if record.get(n) in (None, "")]
    if missing:
        raise ApiError(
            422, "missing required field(s): " + ", ".join(missing), "validation_error"
        )


def int_field(record: dict[str, Any], name: str) -> int:
    value = record.get(name)
    try:
        if isinstance(value, bool):
            raise TypeError
        result = int(value)  # type: ignore[arg-type]
        if isinstance(value, float) and value != result:
            raise ValueError
        return result
    except (TypeError, ValueError):
        raise ApiError(422, f"field {name} must be an integer", "validation_error") from None


def number_field(record: dict[str, Any], name: str) -> float:
    value = record.get(name)
    if isinstance(value, bool):
        raise ApiError(422, f"field {name} must be a number", "validation_error")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError(422, f"field {name} must be a number", "validation_error") from None


def query_list(name: str) -> list[str]:
    """`with=a,b`, `with[]=a&with[]=b` and `with=a&with=b` all mean [a, b]."""
    values = request.args.getlist(name) + request.args.getlist(name + "[]")
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def query_ints(name: str) -> list[int] | None:
    values = query_list(name)
    if not values:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ApiError(422, f"filter {name} takes integers", "validation_error") from None


def query_numbers(name: str) -> list[float] | None:
    values = query_list(name)
    if not values:
        return None
    try:
        return [float(v) for v in values]
    except ValueError:
        raise ApiError(422, f"filter {name} takes numbers", "validation_error") from None


def query_bool(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None:
        return None
    return value.lower() in ("1", "true", "yes")


def parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(422, f"not a unix timestamp or ISO 8601 date: {text!r}",
                       "validation_error") from None


def query_between(name: str) -> tuple[float, float] | None:
    """`updatedBetween=from[,to]`: unix timestamps or ISO 8601, the end optional."""
    value = request.args.get(name)
    if not value:
        return None
    parts = value.split(",", 1)
    start = parse_time(parts[0])
    end = parse_time(parts[1]) if len(parts) == 2 and parts[1].strip() else math.inf
    return start, end


def paging(max_per_page: int, default: int = 50) -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("itemsPerPage", default))
    except ValueError:
        raise ApiError(422, "page and itemsPerPage must be integers", "validation_error") from None
    if page < 1 or per_page < 1:
        raise ApiError(422, "page and itemsPerPage start at 1", "validation_error")
    return page, min(per_page, max_per_page)


def envelope(records: Sequence[Any], page: int, per_page: int) -> dict[str, Any]:
    """PlentyONE's page envelope; `records` is the whole filtered result."""
    total = len(records)
    last_page = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    entries = list(records[start:start + per_page])
    return {
        "page": page,
        "totalsCount": total,
        "isLastPage": page >= last_page,
        "lastPageNumber": last_page,
        "firstOnPage": start + 1 if entries else start,
        "lastOnPage": start + len(entries),
        "itemsPerPage": per_page,
        "entries": entries,
    }


def single_page(records: Sequence[Any]) -> dict[str, Any]:
    """The whole result as one page, for answers the description calls a Collection."""
    return envelope(records, 1, max(1, len(records)))


def public(record: dict[str, Any]) -> dict[str, Any]:
    """Drop bookkeeping keys (leading underscore) before a record leaves the sandbox."""
    return {k: v for k, v in record.items() if not k.startswith("_")}
