"""What marketers read: `ascolto report` and `ascolto datasette`."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timezone
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError
from listener.kernel.times import EARLIEST

from .common import check_brand, config_option, friendly, open_app


@click.command()
@config_option()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Start of the period (default: 28 days ago).")
@click.option("--brand", help="One brand only.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page with charts.")
@friendly
def report(config_path: Path, since, brand: str | None, html_file: Path | None) -> None:
    """NPS with its 95% interval, change against the previous period, response rate, mention tone."""
    from ..jobs.themes import keep_themes_current
    from ..reports.figures import brand_report, default_period
    from ..reports.page import html_report, text_report

    app = open_app(config_path)
    check_brand(app.config, brand, config_path)
    if since is not None and not EARLIEST <= since.year <= app.now().year:
        raise AscoltoError(f"--since: expected a date from {EARLIEST} to today, "
                           f"got {since.year:04d}-{since.month:02d}-{since.day:02d}")
    period = default_period(app.now(), since.replace(tzinfo=timezone.utc) if since else None)
    keep_themes_current(app)  # a taxonomy changed since the last run: texts get their new themes first
    reports = [brand_report(app.db, b.name, period, app.config.themes, b.alert_language)
               for b in app.config.brands if brand in (None, b.name)]
    click.echo("\n\n".join(text_report(r) for r in reports))
    if html_file is not None:
        html_file.write_text(html_report(reports), encoding="utf-8")
        click.echo(f"wrote {html_file}")
    app.close()


@click.command()
@config_option()
@click.option("--metadata", "metadata_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Datasette metadata (default: datasette.yaml beside the configuration file).")
@click.option("--port", type=int, default=8001, show_default=True, help="Port to serve on.")
@friendly
def datasette(config_path: Path, metadata_file: Path | None, port: int) -> None:
    """Open the database in Datasette (read-only) with titles, facets and canned queries."""
    import importlib.util

    from ..config import load_config
    from ..reports.datasette import write_metadata

    if importlib.util.find_spec("datasette") is None:
        raise AscoltoError("Datasette is not installed; install it with: pip install 'ascolto[datasette]'")
    config = load_config(config_path, require_secrets=False)
    metadata_file = metadata_file or config.path.parent / "datasette.yaml"
    if not metadata_file.is_file():
        raise AscoltoError(f"no Datasette metadata at {metadata_file} (use --metadata)")
    if not config.database.is_file():
        raise AscoltoError(f"no database at {config.database} yet: run `ascolto run --once` first")
    merged = write_metadata(config.database, metadata_file)
    try:
        # No write plugins and no --root: Datasette only reads; WAL lets it read while the bot writes.
        child = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(config.database),
                                  "--metadata", str(merged), "--port", str(port)])
        # systemd and docker stop with SIGTERM: pass it on, so that no Datasette is left serving alone.
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            code = child.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches the child too (one process group); wait for it
            code = child.wait()
    finally:
        merged.unlink(missing_ok=True)
    sys.exit(0 if code in (-signal.SIGTERM, -signal.SIGINT) else code)  # stopped as asked: not a failure


COMMANDS = (report, datasette)
