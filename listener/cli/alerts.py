"""`ascolto alerts ...`: the outbox."""

from __future__ import annotations

from pathlib import Path

import click

from .common import config_option, friendly, open_app


@click.group()
def alerts() -> None:
    """The alert outbox."""


@alerts.command(name="send")
@config_option()
@friendly
def alerts_send(config_path: Path) -> None:
    """Send the alerts that are due now."""
    from ..jobs.dispatch import run_dispatch, summary

    app = open_app(config_path)
    app.check_channels()
    click.echo(summary(run_dispatch(app)))
    app.close()


@alerts.command(name="list")
@config_option()
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "all"]), default="pending",
              show_default=True, help="Which deliveries to show.")
@click.option("--channel", help="One channel only.")
@friendly
def alerts_list(config_path: Path, status: str, channel: str | None) -> None:
    """List alert deliveries per channel and target, with attempts and last error."""
    from ..kernel.hours import local_time
    from ..store.alerts import list_deliveries

    app = open_app(config_path, require_secrets=False)
    current = None
    for row in list_deliveries(app.db, None if status == "all" else status, channel):
        if (row.channel, row.target) != current:
            current = (row.channel, row.target)
            click.echo(f"{row.channel} -> {row.target} ({row.mode})")
        when = ""
        if row.status == "pending" and (row.attempts or row.held):
            brand = app.config.brand_by_name.get(row.brand) or app.config.brands[0]
            when = f", next try {local_time(row.next_attempt_at, brand.zone)}" + (f": {row.held}" if row.held else "")
        bundle = f" in a {row.bundle}" if row.bundle not in (None, "single") else ""
        error = f"  last error: {row.last_error}" if row.last_error else ""
        click.echo(f"  #{row.id} {row.status}{bundle} ({row.attempts} attempts{when}) {row.kind} "
                   f"{row.brand or ''} {row.who}: {row.text}{error}")
    app.close()


COMMANDS = (alerts,)
