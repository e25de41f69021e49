"""Collection drivers: fetch from a source, turn items into rows, save them in chunks.

Each driver takes the ``App`` (database, scorer, clients, clock), the source, the counts to update,
the brands to collect for and a progress callback (items fetched). Between chunks each checks
``app.stopping``, so a signal ends a run after a commit, never inside one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from surveys.timestamps import iso

from .app import App
from .config import Brand, ImportSource, RedditSource, XSource
from .importer import BadItem, NotAboutBrand, Problem, item_to_row, read_items
from .pipeline import CHUNK, Counts, chunked, save_chunk
from .retry import call_with_retries
from .store import get_cursor, set_cursor

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def _save(app: App, rows, then=None) -> Counts:
    return save_chunk(app.db, rows, app.scorer, app.config.detractor_confidence, app.recipients_for,
                      iso(app.now()), then=then, case_due=iso(app.case_due()))


# ---- file import -------------------------------------------------------------------------------

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


def collect_import(app: App, source: ImportSource, counts: Counts, brands: Sequence[Brand],
                   progress: Progress, chunk_size: int = CHUNK) -> None:
    for rows in chunked(import_rows(app, source, counts), chunk_size):
        counts.add(_save(app, rows))
        progress(len(rows))
        if app.stopping.is_set():
            return


# ---- X -----------------------------------------------------------------------------------------

def collect_x(app: App, source: XSource, counts: Counts, brands: Sequence[Brand], progress: Progress) -> None:
    from . import x_collector as xc

    client = app.client_for(source)
    for brand in brands:
        query = xc.build_query(brand, source.languages, source.include_retweets)
        _collect_x_query(app, source, client, brand, query, counts, progress)
        if app.stopping.is_set():
            return


def _collect_x_query(app, source: XSource, client, brand: Brand, query: str, counts: Counts, progress) -> None:
    from . import x_collector as xc

    key = f"x:{source.name}"
    cursor = xc.XCursor.load(get_cursor(app.db, key, query))
    # X's next_token belongs to the request that returned it: every page of this run is asked with
    # the since_id/until_id the run started from, while the stored cursor moves page by page.
    asked = cursor
    next_token = None
    for _ in range(source.max_pages):
        xc.check_budget(app.db, source, app.now(), app.config.alerts.recipients)
        page = _x_page(app, source, client, query, asked, next_token, brand)
        tweets, meta = page.get("data") or [], page.get("meta") or {}
        counts.fetched += len(tweets)
        rows, excluded = xc.page_rows(page, brand, iso(app.now()), lambda problem: _bad(counts, "x", problem))
        counts.skipped += excluded
        following = cursor.after_page(meta)
        now = app.now()

        def commit_cursor(db, following=following, now=now, read=len(tweets)):
            set_cursor(db, key, query, following.dump(), iso(now))
            xc.count_reads(db, source, now, read)

        counts.add(_save(app, rows, then=commit_cursor))
        cursor, next_token = following, meta.get("next_token")
        progress(len(tweets))
        if not next_token or app.stopping.is_set():
            return


def _x_page(app, source, client, query, cursor, next_token, brand) -> dict:
    from . import x_collector as xc

    return _calling(lambda: call_with_retries(lambda: xc.search_page(client, query, cursor, next_token, source),
                                              transient=xc.transient_errors(), what=f"X search for {brand.name}",
                                              sleep=app.sleep),
                    lambda exc: xc.translate_error(exc, source))


def _calling(call, translate):
    """``call()``, with an API client's exceptions turned into ours (unknown ones pass unchanged)."""
    try:
        return call()
    except Exception as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from None


def _bad(counts: Counts, source: str, problem: str) -> None:
    counts.errors += 1
    log.warning("%s: skipped: %s", source, problem)


# ---- Reddit ------------------------------------------------------------------------------------

def collect_reddit(app: App, source: RedditSource, counts: Counts, brands: Sequence[Brand],
                   progress: Progress) -> None:
    from . import reddit_collector as rc

    reddit = app.client_for(source)
    for brand in brands:
        _collect_listing(app, source, f"search:{brand.name}", lambda: rc.submissions(reddit, source, brand),
                         brand, brands, counts, progress)
        if app.stopping.is_set():
            return
    if source.comments and source.subreddits:
        _collect_listing(app, source, "comments", lambda: rc.comments(reddit, source), None, brands, counts,
                         progress)


def _collect_listing(app, source: RedditSource, query: str, listing, search_brand, brands, counts: Counts,
                     progress) -> None:
    from . import reddit_collector as rc

    key = f"reddit:{source.name}"
    cursor = rc.RedditCursor.load(get_cursor(app.db, key, query))
    items = _calling(lambda: rc.new_items(listing(), cursor, source.limit),
                     lambda exc: rc.translate_error(exc, source))
    counts.fetched += len(items)
    progress(len(items))
    rows = []
    for data in items:
        try:
            rows.append(rc.item_to_row(data, brands, search_brand, iso(app.now())))
        except BadItem as exc:
            counts.errors += 1
            log.warning("reddit: skipped: %s", exc)
        except NotAboutBrand as exc:
            counts.skipped += 1
            log.info("reddit: not kept: %s", exc)
    final = cursor.advanced(items)
    chunks = list(chunked(rows)) or [[]]
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        then = (lambda db: set_cursor(db, key, query, final.dump(), iso(app.now()))) if last else None
        counts.add(_save(app, chunk, then=then))
        if app.stopping.is_set() and not last:
            return  # cursor not moved: the next run reads these items again, and saves only the rest


COLLECTORS = {"import": collect_import, "x": collect_x, "reddit": collect_reddit}
