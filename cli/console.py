"""One rich console for the CLI; errors go to stderr, never as a traceback."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click
from rich.console import Console

# Piped output (CI logs, grep, tests) gets wide lines rather than rich's 80 columns, so
# tables do not fold names in the middle.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200

out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise click.exceptions.Exit(code)
