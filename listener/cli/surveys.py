"""`ascolto surveys ...`: purchases in, invitations out, replies from other tools."""

from __future__ import annotations

from pathlib import Path

import click

from listener.kernel.errors import AscoltoError

from .common import config_option, friendly, now_iso, open_app, surveys_settings


@click.group()
def surveys() -> None:
    """Post-purchase NPS surveys."""


@surveys.command(name="import-orders")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option()
@friendly
def surveys_import_orders(file: Path, config_path: Path) -> None:
    """Import purchases from CSV: order_ref, email, name, language, purchased_at, legal_basis[, brand]."""
    from surveys.orders import order_from_row, save_order

    app = open_app(config_path)
    surveys_settings(app, config_path)
    new, seen, bad = _import_csv(app, file, order_from_row, lambda db, order: save_order(db, order, now_iso(app), "csv"))
    click.echo(f"{file}: {new} new orders, {seen} already known, {bad} skipped")
    app.close()


def _import_csv(app, file: Path, parse, save) -> tuple[int, int, int]:
    from ..jobs.surveys import import_csv

    return import_csv(app, file, parse, save, on_bad=lambda where, exc: click.echo(f"{where}: skipped: {exc}", err=True))


@surveys.command(name="import-replies")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option()
@click.option("--source", default="import", show_default=True, help="Name of the other survey tool (keys its ids).")
@friendly
def surveys_import_replies(file: Path, config_path: Path, source: str) -> None:
    """Import NPS replies exported from another tool: id, score, answered_at[, email, order_ref, comment, brand]."""
    from surveys.responses import reply_from_row, save_reply

    app = open_app(config_path)
    new, seen, bad = _import_csv(app, file, reply_from_row, lambda db, reply: save_reply(db, reply, source))
    click.echo(f"{file}: {new} new replies, {seen} already known, {bad} skipped; "
               "`ascolto run --once` scores them and alerts on detractors")
    app.close()


@surveys.command(name="send")
@config_option()
@friendly
def surveys_send(config_path: Path) -> None:
    """Send the invitations and reminders the contact policy allows now."""
    from ..jobs.surveys import run_invitations

    app = open_app(config_path)
    surveys_settings(app, config_path)
    counts = run_invitations(app)
    app.close()
    if counts.error and not (counts.sent or counts.reminded):
        raise AscoltoError(counts.error)
    click.echo(f"invited {counts.sent}, reminded {counts.reminded}, waiting {counts.waiting}, "
               f"not allowed {counts.skipped}")


COMMANDS = (surveys,)
