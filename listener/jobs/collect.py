"""The collect job: run one source, record the run, and turn expected trouble into a status.

A job gets the ``App`` and records itself in ``runs``. Expected trouble with a source (a missing
credential, a refusal, a rate limit, a spent budget, an outage) ends that source's run with a status
and a one-line message, and leaves the other sources alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from surveys.timestamps import iso, parse_timestamp

from ..app import App
from ..collect import COLLECTORS
from ..config import Source
from ..errors import AscoltoError, BudgetSpent, MissingCredential, RateLimited
from ..pipeline import Counts
from ..store import get_cursor, set_cursor
from .runs import finish_run, start_run

RETRY_AFTER = "retry_after"  # cursor row holding the time a rate-limited source may be asked again


@dataclass
class SourceRun:
    job: str
    counts: Counts
    # ok, partial (malformed items), interrupted, rate_limited, budget_spent, skipped (no credentials), error
    status: str
    message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("error", "skipped")


def job_name(source: Source) -> str:
    return f"{source.kind}:{source.name}"


def run_source(app: App, source: Source, *, brand: str | None = None,
               progress: Callable[[int], None] = lambda n: None, **options) -> SourceRun:
    job = job_name(source)
    db = app.db
    run_id = start_run(db, job, iso(app.now()))
    counts = Counts()
    brands = [app.config.brand(brand)] if brand else list(app.config.brands)
    status, message = "ok", None
    try:
        _check_retry_after(app, job)
        COLLECTORS[source.kind](app, source, counts, brands, progress, **options)
        if app.stopping.is_set():
            status, message = "interrupted", "stopped by a signal after a commit"
        elif counts.errors:
            status = "partial"
    except RateLimited as exc:
        if exc.resume_at is not None:
            with db.atomic():
                set_cursor(db, job, RETRY_AFTER, iso(exc.resume_at), iso(app.now()))
        status, message = "rate_limited", str(exc)
    except BudgetSpent as exc:
        status, message = "budget_spent", str(exc)
    except MissingCredential as exc:  # a source not set up yet: the others go on
        status, message = "skipped", str(exc)
    except AscoltoError as exc:
        status, message = "error", str(exc)
    except Exception as exc:
        finish_run(db, run_id, iso(app.now()), "error", f"{type(exc).__name__}: {exc}"[:500], **_run_counts(counts))
        raise
    finish_run(db, run_id, iso(app.now()), status, message, **_run_counts(counts))
    return SourceRun(job, counts, status, message)


def _check_retry_after(app: App, job: str) -> None:
    value = get_cursor(app.db, job, RETRY_AFTER)
    if value and parse_timestamp(value) > app.now():
        raise RateLimited(f"rate limited; waiting until {value}")


def _run_counts(counts: Counts) -> dict:
    return {"fetched": counts.fetched, "new": counts.new, "scored": counts.scored,
            "detractors": counts.detractors, "skipped": counts.skipped, "errors": counts.errors}


def run_import(app: App, source, chunk_size: int | None = None) -> Counts:
    """An import source's run, raising on failure (the CLI's `import` and the tests use it)."""
    options = {"chunk_size": chunk_size} if chunk_size else {}
    result = run_source(app, source, **options)
    if result.failed:
        raise AscoltoError(result.message)
    return result.counts
