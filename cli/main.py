"""`spocc`: run, configure and operate the connector."""

from __future__ import annotations

import click

from cli import (
    config_cmd,
    config_history_cmd,
    db_cmd,
    demo_cmd,
    dlq_cmd,
    exporter_cmd,
    ops_cmd,
    orders_cmd,
    sandbox_cmd,
    services,
    status_cmd,
    sync_cmd,
    up_cmd,
    webhooks_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """SPoCC ↔ PlentyONE connector."""


cli.add_command(up_cmd.up)
for command in services.COMMANDS:
    cli.add_command(command)
cli.add_command(db_cmd.db)
cli.add_command(config_cmd.config)
config_cmd.config.add_command(config_history_cmd.history)
config_cmd.config.add_command(config_history_cmd.diff)
cli.add_command(status_cmd.status)
cli.add_command(status_cmd.check)
cli.add_command(dlq_cmd.dlq)
cli.add_command(dlq_cmd.audit)
cli.add_command(webhooks_cmd.webhooks)
cli.add_command(exporter_cmd.exporter)
cli.add_command(ops_cmd.ops)
cli.add_command(orders_cmd.orders)
cli.add_command(orders_cmd.resync)
cli.add_command(sandbox_cmd.sandbox)
cli.add_command(demo_cmd.demo)
cli.add_command(sync_cmd.sync)
cli.add_command(sync_cmd.pause)
cli.add_command(sync_cmd.resume)


if __name__ == "__main__":
    cli()
