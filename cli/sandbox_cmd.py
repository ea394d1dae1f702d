"""`spocc sandbox plentyone|spocc`: one test-mode sandbox in the foreground."""

from __future__ import annotations

import click

DEFAULT_PORTS = {"plentyone": 8081, "spocc": 8082}


@click.command()
@click.argument("which", type=click.Choice(sorted(DEFAULT_PORTS)))
@click.option("--port", type=int, default=None, help="Default: plentyone 8081, spocc 8082.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--variations", type=int, default=16000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--plan", default="off", show_default=True,
              help="PlentyONE only: off, basic, standard, professional, enterprise or R/W[/DAILY].")
def sandbox(which: str, port: int | None, host: str, variations: int, seed: int,
            plan: str) -> None:
    """Serve a sandbox and print its URL and the demo credentials it accepts."""
    port = port or DEFAULT_PORTS[which]
    if which == "plentyone":
        from sandboxes.plentyone.runner import serve as serve_plenty

        serve_plenty(host=host, port=port, variations=variations, seed=seed, plan=plan)
    else:
        from sandboxes.spocc.runner import serve as serve_spocc

        serve_spocc(host, port, variations, seed)
