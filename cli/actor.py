"""Who is acting: every operator action in the CLI is audited with its actor."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any

import click


def default_actor() -> str:
    """`$USER` (as the audit shows it), else the login name of the process."""
    name = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = ""
    return name or "unknown"


def actor_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--actor",
        default=None,
        help="Who is acting, for the audit (default: $USER).",
    )(func)


def actor_of(value: str | None) -> str:
    return value.strip() if value and value.strip() else default_actor()
