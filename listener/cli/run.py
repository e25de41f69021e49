"""The main job and collection: `ascolto run`, `import`, `collect`, `sources`, `serve`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError

from ..sources.registry import source_module
from .common import (
    check_brand,
    config_option,
    friendly,
    open_app,
    progress,
)


@click.command()
@config_option()
@click.option("--once", is_flag=True, help="Run every job once, print a summary and exit.")
@friendly
def run(config_path: Path, once: bool) -> None:
    """Run the configured jobs on their schedule (or once, with --once)."""
    app = open_app(config_path)
    if once:
        run_once(app)
        return
    from ..jobs.scheduler import build_scheduler

    server = None
    if app.config.web is not None:
        from ..web import start_in_background

        server = start_in_background(app)  # raises AscoltoError when the port is taken
        click.echo(f"ascolto: web pages on http://{app.config.web.host}:{app.config.web.port}", err=True)
    try:
        serve_scheduler(app, build_scheduler(app))
    finally:
        if server is not None:
            server.close()


def serve_scheduler(app, scheduler) -> None:
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


def run_once(app) -> None:
    """Every job once, a summary line each; a source that failed (not one merely not set up yet)
    makes the command fail after the summary, so that cron and systemd notice."""
    from ..jobs.collect import run_source
    from ..jobs.dispatch import run_dispatch
    from ..jobs.themes import keep_themes_current

    reassigned = keep_themes_current(app)
    if reassigned:
        click.echo(f"themes  taxonomy changed: {reassigned} texts assigned again")
    failed = []
    for source in app.config.sources:
        result = run_source(app, source)
        echo_source_run(result)
        if result.status == "error":
            failed.append(f"{result.job} ({result.message})")
    if app.config.surveys is not None:
        run_surveys_once(app)
    run_watch_once(app)
    echo_dispatch(run_dispatch(app))
    click.echo(f"database  {app.config.database}")
    app.close()
    if failed:
        raise AscoltoError(f"{len(failed)} source{'s' if len(failed) > 1 else ''} failed: {'; '.join(failed)}")


def run_surveys_once(app) -> None:
    from ..jobs.surveys import import_survey_files, run_invitations, run_response_scoring

    orders, replies = import_survey_files(app)
    if orders or replies:
        click.echo(f"surveys  imported {orders} orders, {replies} replies")
    sent = run_invitations(app)
    line = (f"surveys  invited {sent.sent}  reminded {sent.reminded}  waiting {sent.waiting}  "
            f"not allowed {sent.skipped}")
    click.echo(line + (f"  [{sent.error}]" if sent.error else ""))
    scored = run_response_scoring(app)
    click.echo(f"answers  scored {scored.scored}  detractors {scored.detractors}  "
               f"review candidates {scored.review_candidates}")


def run_watch_once(app) -> None:
    """The hourly spike check, the nightly learning and the weekly theme discovery jobs, once."""
    from ..jobs.learning import run_near_misses, run_retrain
    from ..jobs.spikes import run_spikes
    from ..jobs.themes import run_discovery

    spikes = run_spikes(app)
    click.echo(f"spikes  {len(spikes)}" + "".join(f"  [{brand}: {s.kind}, {s.count} mentions]" for brand, s in spikes))
    if app.config.learning.enabled:
        near = run_near_misses(app)
        retrained = run_retrain(app)
        click.echo(f"model  near-miss lists {near}  retrain {retrained.status}: {retrained.message}")
    found = run_discovery(app)
    click.echo(f"themes  {found.week}: " + ("discovery already done this week" if found.already_done else
                                           f"{found.texts} complaints without a theme, {found.candidates} candidate themes"))


def echo_source_run(result) -> None:
    c = result.counts
    line = (f"{result.job}  fetched {c.fetched}  new {c.new}  scored {c.scored}  detractors {c.detractors}  "
            f"not about a brand {c.skipped}  malformed {c.errors}")
    if result.status not in ("ok", "partial"):
        line += f"  [{result.status}: {result.message}]"
    click.echo(line)


def echo_dispatch(result) -> None:
    line = f"alerts  sent {result.sent}  pending {result.pending}  failed {result.failed}"
    if not result.smtp_configured:
        line += "  (SMTP not configured: alerts wait in the outbox; set [alerts.smtp] host)"
    elif result.error:
        line += f"  (will retry: {result.error})"
    click.echo(line)


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option()
@click.option("--brand", help="Brand of every row (default: the row's brand column, else keyword match).")
@friendly
def import_(file: Path, config_path: Path, brand: str | None) -> None:
    """Import mentions from a JSONL or CSV export, score them and queue alerts."""
    from ..jobs.collect import run_import
    from ..sources import files

    app = open_app(config_path)
    check_brand(app.config, brand, config_path)
    c = run_import(app, files.Settings(name=f"file:{file.name}", path=file.resolve(), brand=brand))
    click.echo(f"{file}: read {c.fetched}, new {c.new}, detractors {c.detractors}, "
               f"not about a brand {c.skipped}, malformed {c.errors} (see the lines above)")
    app.close()


@click.command()
@click.argument("source_name")
@config_option()
@click.option("--brand", help="Collect for this brand only.")
@click.option("--once", is_flag=True, help="Collect once and exit (default: keep collecting at the source's interval).")
@friendly
def collect(source_name: str, config_path: Path, brand: str | None, once: bool) -> None:
    """Collect from one source now (a source name, or its type: x, reddit, import)."""
    app = open_app(config_path)
    source = find_source(app.config, source_name, config_path)
    check_brand(app.config, brand, config_path)
    if not once:
        from ..jobs.scheduler import build_scheduler

        serve_scheduler(app, build_scheduler(app, only=source.name))
        return
    from ..jobs.collect import run_source

    brands = [app.config.brand(brand)] if brand else app.config.brands
    with progress(source_module(source.kind).expected_items(source, brands), f"collecting {source.name}") as update:
        result = run_source(app, source, brand=brand, progress=update)
    app.close()
    if result.failed:
        raise AscoltoError(result.message)
    echo_source_run(result)


def find_source(config, name: str, config_path: Path):
    matches = [s for s in config.sources if s.name == name] or [s for s in config.sources if s.kind == name]
    if len(matches) != 1:
        known = ", ".join(f"{s.name} ({s.kind})" for s in config.sources) or "none"
        raise AscoltoError(f"{config_path}: no single source named or of type {name!r}; sources: {known}")
    return matches[0]


@click.command()
@config_option()
@friendly
def sources(config_path: Path) -> None:
    """Show each source's state (last run, result, cursor, next run, missing credentials) and the
    source types not configured yet."""
    from ..jobs.status import other_source_types, source_states

    app = open_app(config_path)
    for state in source_states(app):
        click.echo(f"{state.job}  every {state.interval_minutes:g} min  last run {state.last_run or 'never'}"
                   f"  status {state.status or '-'}  next run {state.next_run or 'at start'}")
        if state.missing:
            click.echo(f"    off until set: {', '.join(state.missing)}")
        if state.message:
            click.echo(f"    last message: {state.message}")
        for query, value in state.cursors:
            click.echo(f"    cursor {query}: {value}")
    others = other_source_types(app)
    if others:
        click.echo("\nOther source types (README, Sources, says how to set each up):")
        for kind, label, what in others:
            click.echo(f"  {kind:<15} {what}")
    app.close()


@click.command()
@config_option()
@click.option("--host", help="Address to listen on (default: [web] host).")
@click.option("--port", type=int, help="Port (default: [web] port).")
@friendly
def serve(config_path: Path, host: str | None, port: int | None) -> None:
    """Serve the web pages (survey answers, orders endpoint, alert actions) with waitress."""
    from waitress import serve as waitress_serve

    from ..web import wsgi_app

    app = open_app(config_path)
    web = app.config.web
    if web is None:
        raise AscoltoError(f"{config_path}: web: no [web] table (base_url, host, port; see config/ascolto.example.toml)")
    app.db  # create and migrate the database before the first request
    host, port = host or web.host, port or web.port
    click.echo(f"ascolto: web pages on http://{host}:{port} (public address {web.base_url})", err=True)
    try:
        waitress_serve(wsgi_app(app), host=host, port=port, threads=4, ident="ascolto")
    except OSError as exc:
        raise AscoltoError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


COMMANDS = (run, import_, collect, sources, serve)
