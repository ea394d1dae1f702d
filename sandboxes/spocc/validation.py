"""Checks of Transaction Service request bodies; field errors are collected, then raised once."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sandboxes.spocc.errors import ApiError
from sandboxes.spocc.params import parse_timestamp

MONEY = re.compile(r"^\d{1,9}\.\d{2}$")
SPOCC_ID = re.compile(r"^\d{11}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
GERMAN_POSTCODE = re.compile(r"^\d{5}$")

ADDRESS_FIELDS = ("firstName", "lastName", "company", "street", "houseNumber", "additional",
                  "postalCode", "city", "country", "email", "phone")
ADDRESS_REQUIRED = ("street", "houseNumber", "postalCode", "city", "country")
# The sandbox's trigger for an undeliverable address (docs/spocc-api.md, POST /orders).
UNDELIVERABLE_POSTCODE = "00000"


class Fields:
    """Collects `path -> [messages]`; `raise_if_any()` turns them into one validation_error."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(422, "validation_error", "the request body is not valid",
                           {"fields": self.errors})

    def object(self, body: Any, path: str = "body") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(422, "validation_error", "the body must be a JSON object",
                           {"fields": {path: ["must be an object"]}})
        return body

    def integer(self, body: dict[str, Any], name: str, required: bool = True,
                low: int = 1) -> int | None:
        value = body.get(name)
        if value is None:
            if required:
                self.add(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(name, "must be an integer")
            return None
        if value < low:
            self.add(name, f"must be at least {low}")
            return None
        return value

    def string(self, body: dict[str, Any], name: str, required: bool = True,
               max_length: int = 255, path: str | None = None) -> str | None:
        value = body.get(name)
        where = path or name
        if value is None:
            if required:
                self.add(where, "is required")
            return None
        if not isinstance(value, str):
            self.add(where, "must be a string")
            return None
        if len(value) > max_length:
            self.add(where, f"must be at most {max_length} characters")
            return None
        return value

    def money(self, body: dict[str, Any], name: str, path: str | None = None,
              positive: bool = False) -> str | None:
        value = self.string(body, name, path=path)
        if value is None:
            return None
        if not MONEY.match(value):
            self.add(path or name, 'must be a decimal string with two decimals, e.g. "79.95"')
            return None
        if positive and float(value) <= 0:
            self.add(path or name, "must be greater than 0")
            return None
        return value

    def timestamp(self, body: dict[str, Any], name: str) -> datetime | None:
        value = self.string(body, name, required=False)
        if value is None:
            return None
        try:
            return parse_timestamp(value, name)
        except ApiError:
            self.add(name, "must be an ISO-8601 date-time with a time zone")
            return None


def address(raw: Any, path: str, fields: Fields) -> dict[str, Any] | None:
    """The address with every field present (None where absent), or None after a type error."""
    if not isinstance(raw, dict):
        fields.add(path, "must be an object")
        return None
    result: dict[str, Any] = {}
    for name in ADDRESS_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            fields.add(f"{path}.{name}", "must be a string")
        result[name] = value
    return result


def undeliverable_fields(addr: dict[str, Any]) -> list[str]:
    """Why this address cannot be delivered to (the sandbox's rules), as field names."""
    bad = [name for name in ADDRESS_REQUIRED if not (addr.get(name) or "").strip()]
    if not ((addr.get("lastName") or "").strip() or (addr.get("company") or "").strip()):
        bad.append("lastName")
    country = (addr.get("country") or "").strip()
    postcode = (addr.get("postalCode") or "").strip()
    if country and not COUNTRY.match(country):
        bad.append("country")
    if postcode and (postcode == UNDELIVERABLE_POSTCODE
                     or (country == "DE" and not GERMAN_POSTCODE.match(postcode))):
        bad.append("postalCode")
    return bad
