"""The collect job: drive one source through its contract, save what it finds, record the run.

Every source is driven the same way (``listener.sources.base`` describes the contract): for each of
its queries, load the cursor, ask for pages, turn items into rows, and commit each chunk of rows
with its alerts, the cursor and the budget spent in one transaction. A cursor therefore never moves
past rows that were not committed, and a crash neither skips nor repeats an item.

Expected trouble with a source (a missing credential, a refusal, a rate limit, a spent budget, an
outage) ends that source's run with a status and a one-line message, recorded in ``runs``, and
leaves the other sources alone. Between chunks the job checks ``app.stopping``, so a signal ends a
run after a commit, never inside one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from listener.alerts.kinds import NOTICE_ALERT
from listener.kernel.errors import AscoltoError, BudgetSpent, MissingCredential, RateLimited
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import MentionRow
from listener.store.alerts import enqueue
from listener.store.mentions import capped, get_cursor, set_cursor
from listener.store.runs import finish_run, start_run

from ..app import App
from ..pipeline import CHUNK, Counts, chunked, save_chunk
from ..settings import Brand
from ..sources.base import BadItem, Budget, NotAboutBrand, Page, Query, SourceSettings
from ..sources.registry import source_module
from .outcome import Outcome

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
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
        """Nothing could be collected: an error, credentials not set, or no budget (or credits) left."""
        return self.status in ("error", "skipped", "budget_spent")


def job_name(source: SourceSettings) -> str:
    return source.job


def run_source(app: App, source: SourceSettings, *, brand: str | None = None,
               progress: Progress = lambda n: None, chunk_size: int = CHUNK) -> SourceRun:
    job = source.job
    db = app.db
    run_id = start_run(db, job, iso(app.now()))
    counts = Counts()
    brands = [app.config.brand(brand)] if brand else list(app.config.brands)
    status, message = "ok", None
    try:
        _check_retry_after(app, job)
        collect(app, source, counts, brands, progress, chunk_size)
        if app.stopping.is_set():
            status, message = "interrupted", "stopped by a signal after a commit"
        elif counts.errors:
            status = "partial"
    except RateLimited as exc:
        status, message = "rate_limited", str(exc)
        resume = exc.resume_time(app.now())
        if resume is not None:
            with db.atomic():
                set_cursor(db, job, RETRY_AFTER, iso(resume), iso(app.now()))
            if "waiting until" not in message:
                message += f"; asked again after {iso(resume)}"
    except BudgetSpent as exc:
        with db.atomic():
            if exc.pause is not None:
                set_cursor(db, job, RETRY_AFTER, iso(app.now() + exc.pause), iso(app.now()))
            if exc.notice is not None:  # once: the notice's subject is unique
                subject, details = exc.notice
                enqueue(db, NOTICE_ALERT, f"{job}:{subject}", app.routes_for(NOTICE_ALERT), iso(app.now()),
                        details=details)
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


def run_import(app: App, source: SourceSettings, chunk_size: int = CHUNK) -> Counts:
    """An import source's run, raising on failure (the CLI's `import` and the tests use it)."""
    result = run_source(app, source, chunk_size=chunk_size)
    if result.failed:
        raise AscoltoError(result.message)
    return result.counts


def _check_retry_after(app: App, job: str) -> None:
    value = get_cursor(app.db, job, RETRY_AFTER)
    if value and parse_timestamp(value) > app.now():
        raise RateLimited(f"rate limited; waiting until {value}")


def _run_counts(counts: Counts) -> dict:
    return {"fetched": counts.fetched, "new": counts.new, "scored": counts.scored,
            "detractors": counts.detractors, "skipped": counts.skipped, "errors": counts.errors}


# ---- the one collection loop -------------------------------------------------------------------

def collect(app: App, source: SourceSettings, counts: Counts, brands: Sequence[Brand], progress: Progress,
            chunk_size: int = CHUNK) -> None:
    module = source_module(source.kind)
    client = app.client_for(source)
    for query in module.queries(source, brands):
        _collect_query(app, module, source, client, query, brands, counts, progress, chunk_size)
        if app.stopping.is_set():
            return


def _collect_query(app: App, module: ModuleType, source: SourceSettings, client, query: Query,
                   brands: Sequence[Brand], counts: Counts, progress: Progress, chunk_size: int) -> None:
    cursor = module.Cursor.load(get_cursor(app.db, source.job, query.key))
    pages = module.fetch(client, source, query, cursor, app.sleep)
    while True:
        if source.budget is not None:
            check_budget(app, source, module.LABEL, source.budget)  # before asking for another page
        page = next(pages, None)
        if page is None:
            return
        counts.fetched += len(page.items)
        progress(len(page.items))
        rows = _rows(module, source, page.items, query, brands, iso(app.now()), counts, app.config.max_text_chars)
        if not _save_page(app, source, query, page, rows, counts, chunk_size):
            return


def _rows(module: ModuleType, source: SourceSettings, items: list, query: Query, brands: Sequence[Brand],
          collected_at: str, counts: Counts, max_chars: int) -> list[MentionRow]:
    """The items' rows; malformed items are counted and logged, those about no brand counted."""
    rows = []
    for item in items:
        where = getattr(item, "where", source.kind)
        try:
            rows.append(capped(module.item_to_row(item, query, brands, collected_at), max_chars))
        except BadItem as exc:
            counts.errors += 1
            log.warning("%s: skipped: %s", where, exc)
        except NotAboutBrand as exc:
            counts.skipped += 1
            log.info("%s: not kept: %s", where, exc)
    return rows


def _save_page(app: App, source: SourceSettings, query: Query, page: Page, rows: list[MentionRow], counts: Counts,
               chunk_size: int) -> bool:
    """Commit the page's rows chunk by chunk; the last chunk also moves the cursor and counts the
    budget spent. False when a stop was requested (the page's cursor then stays where it was)."""
    chunks = list(chunked(rows, chunk_size)) or [[]]
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        counts.add(save_chunk(app.db, chunk, app.scorer, app.alert_rules, app.routes_for,
                              iso(app.now()), then=_page_done(app, source, query, page) if last else None,
                              case_due=iso(app.case_due()), themes=app.theme_matcher,
                              group_since=app.group_since()))
        if app.stopping.is_set():
            return False
    return True


def _page_done(app: App, source: SourceSettings, query: Query, page: Page):
    """What commits with the page's last rows: its cursor, and what it spent of the budget."""
    now = app.now()

    def commit(db) -> None:
        if page.cursor is not None and (value := page.cursor.dump()) is not None:
            set_cursor(db, source.job, query.key, value, iso(now))
        if source.budget is not None and page.cost:
            key = _budget_key(source.budget, now)
            set_cursor(db, source.job, key, str(_spent(app, source, key) + page.cost), iso(now))

    return commit


def _budget_key(budget: Budget, now) -> str:
    return f"budget:{budget.period_of(now)}"


def _spent(app: App, source: SourceSettings, key: str) -> int:
    value = get_cursor(app.db, source.job, key)
    return int(value) if value else 0


def check_budget(app: App, source: SourceSettings, label: str, budget: Budget) -> None:
    """Raise BudgetSpent (and queue one notice per period) once the period's reads reach the budget."""
    now = app.now()
    period = budget.period_of(now)
    spent = _spent(app, source, _budget_key(budget, now))
    if spent < budget.limit:
        return
    details = {"title": f"{label} read budget for {period} spent: collection from {label} is paused",
               "body": f"Source {source.name!r} has read {spent} {budget.unit} in {period}, its {budget.setting} "
                       f"is {budget.limit}. Collection from {label} resumes {budget.next_period()}, or raise "
                       f"the budget in the configuration."}
    raise BudgetSpent(f"{label} read budget spent: {spent} of {budget.limit} {budget.unit} in {period}",
                      notice=(f"budget:{period}", details))


def job_for(source_name: str):
    """The collection job of one source: its run, and one summary line."""

    def run(app: App) -> Outcome:
        result = run_source(app, app.config.source(source_name))
        return Outcome([summary(result)], f"{result.job} ({result.message})" if result.status == "error" else None)

    return run


def summary(result: SourceRun) -> str:
    c = result.counts
    line = (f"{result.job}  fetched {c.fetched}  new {c.new}  scored {c.scored}  detractors {c.detractors}  "
            f"not about a brand {c.skipped}  malformed {c.errors}")
    if result.status not in ("ok", "partial"):
        line += f"  [{result.status}: {result.message}]"
    return line
