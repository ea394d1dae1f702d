"""Jinja filters: times and ages as an operator reads them, free text masked and cut."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from clients.exchange import scrub_text

NONE = "\u2013"  # an en dash: nothing to show

# Credentials that could ride in an error text (a URL's query, a header echoed back).
_SCHEME = r"(?:(?:bearer|basic)\s+)"
_SECRETISH = re.compile(
    rf"(?i)({_SCHEME}|(?:token|password|secret|api[_-]?key|authorization)[\"']?\s*[=:]\s*"
    rf"[\"']?{_SCHEME}?)[^\s\"'&,;]+"
)


def mask_text(value: Any, limit: int = 2000) -> str:
    """Free text as a page may show it: credentials (`key=value`, bearer tokens) and personal
    data (e-mail addresses, phone numbers, IBANs: an API's error text may quote a customer's)
    masked, then cut."""
    text = "" if value is None else str(value)
    text = _SECRETISH.sub(lambda m: m.group(1) + "********", text)
    text = scrub_text(text)
    return text if len(text) <= limit else text[:limit] + " …"


def when(value: datetime | None) -> str:
    if value is None:
        return NONE
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | timedelta | None) -> str:
    if seconds is None:
        return NONE
    s = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    if s < 0:
        return "in " + duration(-s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def every(minutes: int) -> str:
    """A process interval: 15 min, 1 h, 1 d, 90 min."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return NONE
    return duration((now or datetime.now(UTC)) - value)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        mask=mask_text, when=when, age=age, duration=duration, every=every
    )
    app.jinja_env.globals["now"] = lambda: datetime.now(UTC)
