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
              show_default=True, help="Which deliveries to show.")
@click.option("--channel", help="One channel only.")
@friendly
def alerts_list(config_path: Path, status: str, channel: str | None) -> None:
    """List alert deliveries per channel and target, with attempts and last error."""
    app = open_app(config_path)
    where, args = [], []
    if status != "all":
        where.append("d.status = ?")
        args.append(status)
    if channel:
        where.append("d.channel = ?")
        args.append(channel)
    rows = app.db.query(
        "select d.id, d.channel, d.target, d.mode, d.status, d.attempts, d.last_error, d.next_attempt_at, d.bundle, "
        "a.kind, a.brand, coalesce(m.author, json_extract(a.details, '$.name'), '') as who, "
        "substr(coalesce(m.text, json_extract(a.details, '$.comment'), json_extract(a.details, '$.title'), ''), 1, 60)"
        " as text from deliveries d join alerts a on a.id = d.alert_id left join mentions m on m.id = a.mention_id"
        + (" where " + " and ".join(where) if where else "") + " order by d.channel, d.target, d.id", args)
    current = None
    for row in rows:
        if (row["channel"], row["target"]) != current:
            current = (row["channel"], row["target"])
            click.echo(f"{row['channel']} -> {row['target']} ({row['mode']})")
        when = f", next try {row['next_attempt_at']}" if row["status"] == "pending" and row["attempts"] else ""
        bundle = f" in a {row['bundle']}" if row["bundle"] not in (None, "single") else ""
        error = f"  last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"  #{row['id']} {row['status']}{bundle} ({row['attempts']} attempts{when}) {row['kind']} "
                   f"{row['brand'] or ''} {row['who']}: {row['text']}{error}")
    app.close()


COMMANDS = (alerts,)
