"""One rich console for the CLI; errors go to stderr, never as a traceback."""

from __future__ import annotations

from typing import NoReturn

import click
from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise click.exceptions.Exit(code)
