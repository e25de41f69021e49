"""The jobs the scheduler runs: collect from a source, dispatch the alert outbox.

A job gets the ``App`` (configuration, database, scorer, mailer, clock) and returns its counts; the
same functions serve ``run --once``, the scheduler and the one-off CLI commands.
"""

from __future__ import annotations

import logging
from .app import App
from .clock import iso
from .config import ImportSource
from .importer import BadItem, NotAboutBrand, Problem, item_to_row, read_items
from .outbox import Dispatch, dispatch
from .pipeline import CHUNK, Counts, chunked, save_chunk
from .runs import finish_run, start_run

log = logging.getLogger(__name__)


def import_rows(app: App, source: ImportSource, counts: Counts):
    """Rows of an import file; malformed ones are logged with their line number and counted."""
    default_brand = app.config.brand(source.brand) if source.brand else None
    collected_at = iso(app.now())
    for item in read_items(source.path):
        counts.fetched += 1
        if isinstance(item, Problem):
            counts.errors += 1
            log.warning("%s:%d: skipped: %s", source.path, item.line, item.reason)
            continue
        try:
            yield item_to_row(item, app.config.brands, default_brand, collected_at)
        except BadItem as exc:
            counts.errors += 1
            log.warning("%s:%d: skipped: %s", source.path, item.line, exc)
        except NotAboutBrand as exc:
            counts.skipped += 1
            log.info("%s:%d: not kept: %s", source.path, item.line, exc)


def run_import(app: App, source: ImportSource, chunk_size: int = CHUNK) -> Counts:
    db = app.db
    run_id = start_run(db, f"import:{source.name}", iso(app.now()))
    counts = Counts()
    try:
        for rows in chunked(import_rows(app, source, counts), chunk_size):
            counts.add(save_chunk(db, rows, app.scorer, app.config.detractor_confidence,
                                  app.recipients_for, iso(app.now())))
            if app.stopping.is_set():
                finish_run(db, run_id, iso(app.now()), "interrupted", "stopped by a signal", **_run_counts(counts))
                return counts
    except Exception as exc:
        finish_run(db, run_id, iso(app.now()), "error", str(exc)[:500], **_run_counts(counts))
        raise
    finish_run(db, run_id, iso(app.now()), "ok" if not counts.errors else "partial", None, **_run_counts(counts))
    return counts


def _run_counts(counts: Counts) -> dict:
    return {"fetched": counts.fetched, "new": counts.new, "scored": counts.scored,
            "detractors": counts.detractors, "skipped": counts.skipped, "errors": counts.errors}


def run_dispatch(app: App) -> Dispatch:
    db = app.db
    run_id = start_run(db, "alerts:dispatch", iso(app.now()))
    result = dispatch(db, app.config.alerts, app.config.brand_by_name, app.config.detractor_confidence,
                      app.mailer, app.now())
    status = "ok" if not result.error else "partial"
    finish_run(db, run_id, iso(app.now()), status, result.error, alerts_sent=result.sent,
               alerts_pending=result.pending, errors=result.failed)
    return result
