"""`ascolto alerts ...`: the outbox."""

from __future__ import annotations

from pathlib import Path

import click

from .common import config_option, friendly, open_app
from .run import echo_dispatch


@click.group()
def alerts() -> None:
    """The alert outbox."""


@alerts.command(name="send")
@config_option()
@friendly
def alerts_send(config_path: Path) -> None:
    """Send the alerts that are due now."""
    from ..jobs.dispatch import run_dispatch

    app = open_app(config_path)
    echo_dispatch(run_dispatch(app))
    app.close()


@alerts.command(name="list")
@config_option()
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "all"]), default="pending",
              show_default=True, help="Which alerts to show.")
@friendly
def alerts_list(config_path: Path, status: str) -> None:
    """List alerts with their mention, attempts and last error."""
    app = open_app(config_path)
    where = "" if status == "all" else "where a.status = ?"
    rows = app.db.query(
        f"select a.id, a.status, a.attempts, a.last_error, m.brand, m.author, substr(m.text, 1, 60) as text "
        f"from alerts a join mentions m on m.id = a.mention_id {where} order by a.id",
        [] if status == "all" else [status])
    for row in rows:
        error = f"  last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']} {row['status']} ({row['attempts']} attempts) {row['brand']} "
                   f"{row['author']}: {row['text']}{error}")
    app.close()


COMMANDS = (alerts,)
