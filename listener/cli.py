"""The `ascolto` command: one subcommand per job. Expected failures become one line and exit 1."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import signal
import sys
from pathlib import Path

import click

from sentiment.errors import SentimentError

from .errors import AscoltoError

DEFAULT_CONFIG = "ascolto.toml"


def _friendly(command):
    """Library code raises small domain exceptions; here they become one line, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (AscoltoError, SentimentError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _config_option(required: bool = True):
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar="ASCOLTO_CONFIG", default=DEFAULT_CONFIG if required else None, show_default=required,
        help="Configuration file (TOML); also $ASCOLTO_CONFIG.",
    )


def _app(config_path: Path):
    from .app import App
    from .config import load_config

    return App(load_config(config_path))


def _model_settings(config_path: Path | None):
    from sentiment.loading import ModelSettings

    from .config import load_config

    return load_config(config_path, require_secrets=False).model if config_path else ModelSettings()


@click.group()
@click.version_option(package_name="ascolto")
@click.option("-v", "--verbose", is_flag=True, help="Log each job's progress, not only problems.")
def cli(verbose: bool) -> None:
    """Ascolto: brand mentions and NPS replies, scored for sentiment, with an email for every detractor."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="ascolto: %(message)s",
                        stream=sys.stderr)
    # tweepy and prawcore log request headers (bearer tokens included) at DEBUG: keep them quieter.
    for noisy in ("tweepy", "prawcore", "praw", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@cli.command()
@_config_option()
@click.option("--once", is_flag=True, help="Run every job once, print a summary and exit.")
@_friendly
def run(config_path: Path, once: bool) -> None:
    """Run the configured jobs on their schedule (or once, with --once)."""
    app = _app(config_path)
    if once:
        _run_once(app)
        return
    from .scheduler import build_scheduler

    server = None
    if app.config.surveys is not None:
        from .web_server import start_in_background

        server = start_in_background(app)
        click.echo(f"ascolto: survey page on http://{app.config.surveys.host}:{app.config.surveys.port}", err=True)
    try:
        _serve(app, build_scheduler(app))
    finally:
        if server is not None:
            server.close()


def _serve(app, scheduler) -> None:
    # SIGTERM (systemd, docker stop) stops like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"ascolto: {len(scheduler.get_jobs())} jobs scheduled; database {app.config.database}; Ctrl-C stops",
               err=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("ascolto: stopping after the current chunk is committed", err=True)
    finally:
        app.stopping.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)  # the running job commits its chunk and returns
        app.close()


def _run_once(app) -> None:
    from .jobs import run_dispatch, run_source

    for source in app.config.sources:
        _echo_source_run(run_source(app, source))
    if app.config.surveys is not None:
        _run_surveys_once(app)
    _echo_dispatch(run_dispatch(app))
    click.echo(f"database  {app.config.database}")
    app.close()


def _run_surveys_once(app) -> None:
    from .survey_jobs import run_invitations, run_response_scoring

    sent = run_invitations(app)
    line = (f"surveys  invited {sent.sent}  reminded {sent.reminded}  waiting {sent.waiting}  "
            f"not allowed {sent.skipped}")
    click.echo(line + (f"  [{sent.error}]" if sent.error else ""))
    scored = run_response_scoring(app)
    click.echo(f"answers  scored {scored.scored}  detractors {scored.detractors}  "
               f"review candidates {scored.review_candidates}")


def _echo_source_run(result) -> None:
    c = result.counts
    line = (f"{result.job}  fetched {c.fetched}  new {c.new}  scored {c.scored}  detractors {c.detractors}  "
            f"not about a brand {c.skipped}  malformed {c.errors}")
    if result.status not in ("ok", "partial"):
        line += f"  [{result.status}: {result.message}]"
    click.echo(line)


def _echo_dispatch(result) -> None:
    line = f"alerts  sent {result.sent}  pending {result.pending}  failed {result.failed}"
    if not result.smtp_configured:
        line += "  (SMTP not configured: alerts wait in the outbox; set [alerts.smtp] host)"
    elif result.error:
        line += f"  (will retry: {result.error})"
    click.echo(line)


@cli.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_config_option()
@click.option("--brand", help="Brand of every row (default: the row's brand column, else keyword match).")
@_friendly
def import_(file: Path, config_path: Path, brand: str | None) -> None:
    """Import mentions from a JSONL or CSV export, score them and queue alerts."""
    from .config import ImportSource
    from .jobs import run_import

    app = _app(config_path)
    if brand is not None and brand not in app.config.brand_by_name:
        raise AscoltoError(f"--brand: no brand named {brand!r} in {config_path}")
    c = run_import(app, ImportSource(name=f"file:{file.name}", path=file.resolve(), brand=brand))
    click.echo(f"{file}: read {c.fetched}, new {c.new}, detractors {c.detractors}, "
               f"not about a brand {c.skipped}, malformed {c.errors} (see the lines above)")
    app.close()


@cli.command()
@click.argument("source_name")
@_config_option()
@click.option("--brand", help="Collect for this brand only.")
@click.option("--once", is_flag=True, help="Collect once and exit (default: keep collecting at the source's interval).")
@_friendly
def collect(source_name: str, config_path: Path, brand: str | None, once: bool) -> None:
    """Collect from one source now (a source name, or its type: x, reddit, import)."""
    app = _app(config_path)
    source = _find_source(app.config, source_name, config_path)
    if brand is not None and brand not in app.config.brand_by_name:
        raise AscoltoError(f"--brand: no brand named {brand!r} in {config_path}")
    if not once:
        from .scheduler import build_scheduler

        scheduler = build_scheduler(app, only=source.name)
        _serve(app, scheduler)
        return
    from .jobs import run_source

    with _progress(_expected_items(source, app.config, brand), f"collecting {source.name}") as update:
        result = run_source(app, source, brand=brand, progress=update)
    app.close()
    if result.failed:
        raise AscoltoError(result.message)
    _echo_source_run(result)


@contextlib.contextmanager
def _progress(length: int, label: str):
    """A progress bar on a terminal (a backfill can take minutes); nothing in logs and pipes."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def _find_source(config, name: str, config_path: Path):
    matches = [s for s in config.sources if s.name == name] or [s for s in config.sources if s.kind == name]
    if len(matches) != 1:
        known = ", ".join(f"{s.name} ({s.kind})" for s in config.sources) or "none"
        raise AscoltoError(f"{config_path}: no single source named or of type {name!r}; sources: {known}")
    return matches[0]


def _expected_items(source, config, brand) -> int:
    brands = 1 if brand else len(config.brands)
    if source.kind == "x":
        return source.max_pages * source.max_results * brands
    if source.kind == "reddit":
        return source.limit * (brands + (1 if source.comments and source.subreddits else 0))
    return sum(1 for _ in source.path.open(encoding="utf-8", errors="replace")) if source.path.is_file() else 0


@cli.command()
@_config_option()
@_friendly
def sources(config_path: Path) -> None:
    """Show each source's state: last run, its result, cursor, errors and next run."""
    from .status import source_states

    app = _app(config_path)
    for state in source_states(app):
        click.echo(f"{state.job}  every {state.interval_minutes:g} min  last run {state.last_run or 'never'}"
                   f"  status {state.status or '-'}  next run {state.next_run or 'at start'}")
        if state.message:
            click.echo(f"    last message: {state.message}")
        for query, value in state.cursors:
            click.echo(f"    cursor {query}: {value}")
    app.close()


@cli.command()
@_config_option()
@click.option("--host", help="Address to listen on (default: [surveys] host).")
@click.option("--port", type=int, help="Port (default: [surveys] port).")
@_friendly
def serve(config_path: Path, host: str | None, port: int | None) -> None:
    """Serve the survey answer page (and the orders endpoint) with waitress."""
    from waitress import serve as waitress_serve

    from .web_server import survey_wsgi_app

    app = _app(config_path)
    settings = _surveys(app, config_path)
    app.db  # create and migrate the database before the first request
    host, port = host or settings.host, port or settings.port
    click.echo(f"ascolto: survey page on http://{host}:{port} (public address {settings.base_url})", err=True)
    waitress_serve(survey_wsgi_app(app), host=host, port=port, threads=4, ident="ascolto")


def _surveys(app, config_path: Path):
    if app.config.surveys is None:
        raise AscoltoError(f"{config_path}: surveys: no [surveys] table (see config/ascolto.example.toml)")
    return app.config.surveys


def _now_iso(app) -> str:
    from .clock import iso

    return iso(app.now())


@cli.command()
@_config_option()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Start of the period (default: 28 days ago).")
@click.option("--brand", help="One brand only.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page with charts.")
@_friendly
def report(config_path: Path, since, brand: str | None, html_file: Path | None) -> None:
    """NPS with its 95% interval, change against the previous period, response rate, mention tone."""
    from datetime import timezone

    from .report_format import html_report, text_report
    from .reporting import brand_report, default_period

    app = _app(config_path)
    if brand is not None and brand not in app.config.brand_by_name:
        raise AscoltoError(f"--brand: no brand named {brand!r} in {config_path}")
    period = default_period(app.now(), since.replace(tzinfo=timezone.utc) if since else None)
    reports = [brand_report(app.db, b.name, period) for b in app.config.brands if brand in (None, b.name)]
    click.echo("\n\n".join(text_report(r) for r in reports))
    if html_file is not None:
        html_file.write_text(html_report(reports), encoding="utf-8")
        click.echo(f"wrote {html_file}")
    app.close()


@cli.command()
@_config_option()
@click.option("--metadata", "metadata_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Datasette metadata (default: datasette.yaml beside the configuration file).")
@click.option("--port", type=int, default=8001, show_default=True, help="Port to serve on.")
@_friendly
def datasette(config_path: Path, metadata_file: Path | None, port: int) -> None:
    """Open the database in Datasette (read-only) with titles, facets and canned queries."""
    import importlib.util
    import subprocess

    from .config import load_config
    from .datasette_setup import write_metadata

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
        code = subprocess.call([sys.executable, "-m", "datasette", "serve", str(config.database),
                                "--metadata", str(merged), "--port", str(port)])
    finally:
        merged.unlink(missing_ok=True)
    sys.exit(code)


@cli.group()
def alerts() -> None:
    """The alert outbox."""


@alerts.command(name="send")
@_config_option()
@_friendly
def alerts_send(config_path: Path) -> None:
    """Send the alerts that are due now."""
    from .jobs import run_dispatch

    app = _app(config_path)
    _echo_dispatch(run_dispatch(app))
    app.close()


@alerts.command(name="list")
@_config_option()
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "all"]), default="pending",
              show_default=True, help="Which alerts to show.")
@_friendly
def alerts_list(config_path: Path, status: str) -> None:
    """List alerts with their mention, attempts and last error."""
    app = _app(config_path)
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


@cli.command()
@click.argument("texts", nargs=-1, required=True)
@_config_option(required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per text.")
@_friendly
def score(texts: tuple[str, ...], config_path: Path | None, as_json: bool) -> None:
    """Score texts for sentiment and print label and probabilities."""
    from sentiment.loading import load_scorer

    scorer = load_scorer(_model_settings(config_path))
    for text, s in zip(texts, scorer.score(list(texts))):
        if as_json:
            click.echo(json.dumps({"text": text, "label": s.label, "confidence": round(s.confidence, 4),
                                   "probabilities": {k: round(v, 4) for k, v in s.probabilities.items()},
                                   "model": scorer.name}, ensure_ascii=False))
        else:
            click.echo(f"{s.label:<8} {s.confidence:.2f}  neg {s.negative:.2f} neu {s.neutral:.2f} "
                       f"pos {s.positive:.2f}  {text}")


@cli.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_config_option(required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_friendly
def eval_(files: tuple[Path, ...], config_path: Path | None, as_json: bool) -> None:
    """Accuracy and macro-F1 of the model on labelled JSONL files ({"text", "label"} rows)."""
    from sentiment.evaluation import evaluate_files, format_report, report_dict
    from sentiment.loading import load_scorer

    reports = evaluate_files(load_scorer(_model_settings(config_path)), files)
    if as_json:
        click.echo(json.dumps([report_dict(r) for r in reports], indent=2))
    else:
        for report in reports:
            click.echo(format_report(report))


# The command groups in their own modules register themselves on `cli` when imported.
from . import cli_cases, cli_sentiment, cli_surveys  # noqa: E402,F401


def main() -> None:
    cli(prog_name="ascolto")
