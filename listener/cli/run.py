"""The main job and collection: `ascolto run`, `import`, `collect`, `sources`, `serve`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError
from listener.kernel.hours import local_time
from listener.kernel.secrets import signing_secret

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
    app.check_channels()
    if once:
        run_once(app)
        return
    from ..jobs.scheduler import build_scheduler

    lock = one_scheduler(app.config.database)  # held until this process ends
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
        lock.close()


def one_scheduler(database: Path):
    """One scheduler per database: a second `ascolto run` would take the web port and repeat every
    job. An advisory lock on a file beside the database (released by the system if the process
    dies), with the holder's pid in it for the message. `run --once` does not take it: it may run
    beside the scheduler (its deliveries and invitations are claimed, never sent twice)."""
    import fcntl
    import os

    path = database.with_name(database.name + ".run.lock")
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise AscoltoError(f"ascolto run is already running on {database} (pid {pid}); stop it first, or use "
                           f"`ascolto run --once` beside it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


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
    """Every job of the table once (the weekly digest aside), a summary line each; a source that failed
    (not one merely not set up yet) makes the command fail after the summary, so that cron and
    systemd notice."""
    from ..jobs.table import jobs

    failed = []
    for job in jobs(app):
        if not job.once:
            continue
        outcome = job.run(app)
        for line in outcome.lines:
            click.echo(line)
        if outcome.failure:
            failed.append(outcome.failure)
    click.echo(f"database  {app.config.database}")
    app.close()
    if failed:
        raise AscoltoError(f"{len(failed)} source{'s' if len(failed) > 1 else ''} failed: {'; '.join(failed)}")


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option()
@click.option("--brand", help="Brand of every row (default: the row's brand column, else keyword match).")
@friendly
def import_(file: Path, config_path: Path, brand: str | None) -> None:
    """Import mentions from a JSONL or CSV export, score them and queue alerts."""
    from ..jobs.collect import run_import
    from ..sources import files

    app = open_app(config_path, require_secrets=False)
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
    app = open_app(config_path, require_secrets=False)
    source = find_source(app.config, source_name, config_path)
    check_brand(app.config, brand, config_path)
    if not once:
        from ..jobs.scheduler import build_scheduler

        serve_scheduler(app, build_scheduler(app, only=source.name))
        return
    from ..jobs.collect import run_source, summary

    brands = [app.config.brand(brand)] if brand else app.config.brands
    with progress(source_module(source.kind).expected_items(source, brands), f"collecting {source.name}") as update:
        result = run_source(app, source, brand=brand, progress=update)
    app.close()
    if result.failed:
        raise AscoltoError(result.message)
    click.echo(summary(result))


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

    app = open_app(config_path, require_secrets=False)
    zone = app.config.brands[0].zone  # the team's clock, as in their alerts
    for state in source_states(app):
        last = local_time(state.last_run, zone) if state.last_run else "never"
        due = local_time(state.next_run, zone) if state.next_run else "at start"
        click.echo(f"{state.job}  every {state.interval_minutes:g} min  last run {last}"
                   f"  status {state.status or '-'}  next run {due}")
        if state.missing:
            click.echo(f"    off until set: {', '.join(state.missing)}")
        if state.reply_missing:
            click.echo(f"    replies from Ascolto need: {', '.join(state.reply_missing)}")
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
    from ..web import make_server

    app = open_app(config_path, require_secrets=False)
    web = app.config.web
    if web is None:
        raise AscoltoError(f"{config_path}: web: no [web] table (base_url, host, port; see config/ascolto.example.toml)")
    signing_secret(web.secret_env)  # links cannot be checked without it: say so now, not at the first click
    app.db  # create and migrate the database before the first request
    host, port = host or web.host, port or web.port
    click.echo(f"ascolto: web pages on http://{host}:{port} (public address {web.base_url})", err=True)
    server = make_server(app, host, port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


COMMANDS = (run, import_, collect, sources, serve)
