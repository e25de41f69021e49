"""New mentions -> sentiment and the unhappy-customer detector -> class -> SQLite, with an alert and a
follow-up case for every detractor.

Rows arrive in chunks; each chunk is scored in one batch and committed in one transaction together
with the alerts of its detractors, so an alert exists exactly when its mention does. Whether a
mention alerts is ``listener.rules.judge``: a 1-2 star rating, else the detector at the brand's
preset and the mention's language, else (a model without a detector) a confident negative.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from listener.sources.base import MentionRow
from listener.store.mentions import ScoredMention, insert_mentions, known_revisions, update_edited
from surveys.nps import DETRACTOR

from .alerts.outbox import DETRACTOR_ALERT, enqueue
from .alerts.routing import Route
from .cases import open_case
from .rules import AlertRules
from .themes.assignments import record as record_themes
from .themes.matching import ThemeMatcher

CHUNK = 256
log = logging.getLogger(__name__)


@dataclass
class Counts:
    fetched: int = 0  # items read from the source, good or bad
    new: int = 0
    scored: int = 0
    detractors: int = 0
    skipped: int = 0  # well-formed but not about a brand
    errors: int = 0  # malformed items
    alerts_enqueued: int = 0

    def add(self, other: Counts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def score_rows(rows: Sequence[MentionRow], scorer, rules: AlertRules) -> list[ScoredMention]:
    scores = scorer.score([row.text for row in rows])
    scored = []
    for row, s in zip(rows, scores, strict=True):
        nps_class, verdict = rules.classify(row.brand, row.lang, s, scorer.detector, row.rating)
        why = {"rule": verdict.rule, "threshold": verdict.threshold, "preset": rules.preset(row.brand)}
        scored.append(ScoredMention(row, s.label, s.confidence, s.negative, s.neutral, s.positive, scorer.name,
                                    nps_class, verdict.p_unhappy, verdict.rule if verdict.alert else None,
                                    verdict.threshold if verdict.rule == "detector" else None, why, s.embedding))
    return scored


def save_chunk(db: sqlite_utils.Database, rows: Sequence[MentionRow], scorer, rules: AlertRules,
               routes_for: Callable[..., Sequence[Route]], now: str,
               then: Callable[[sqlite_utils.Database], None] | None = None, case_due: str | None = None,
               themes: ThemeMatcher | None = None) -> Counts:
    """Score the rows not yet stored and commit them with their alerts in one transaction.

    ``then`` runs inside that transaction: collectors advance their cursor there, so a cursor
    never moves past rows that were not committed. With ``themes``, each stored mention gets its
    themes (and its embedding is kept) in the same transaction. The counts say what this call inserted: another
    process importing the same rows at the same time inserts the rest. A row the database refuses
    is logged and skipped, and the others are saved.
    """
    known = known_revisions(db, [r.id for r in rows])
    latest: dict[str, MentionRow] = {}  # in-chunk repeats: one row, its latest revision
    for row in rows:
        if row.id not in latest or (row.revision or 0) > (latest[row.id].revision or 0):
            latest[row.id] = row
    fresh = [r for r in latest.values() if r.id not in known]
    edited = [r for r in latest.values() if r.id in known and r.revision and r.revision > (known[r.id] or 0)]
    scored = score_rows(fresh + edited, scorer, rules) if fresh or edited else []
    store = functools.partial(_store, routes_for=routes_for, now=now, case_due=case_due or now, themes=themes,
                              model=scorer.name)
    try:
        with db.atomic():
            inserted, alerts = store(db, scored)
            if then is not None:
                then(db)
        failed = 0
    except ROW_ERRORS:
        inserted, alerts, failed = _store_one_by_one(db, scored, store)
        if then is not None:
            with db.atomic():
                then(db)
    return Counts(new=len(inserted), scored=len(scored), detractors=sum(m.nps_class == DETRACTOR for m in inserted),
                  errors=failed, alerts_enqueued=alerts)


# What a single bad row can raise on insert (an unencodable character, a number too big for SQLite);
# "database is locked" and I/O errors are not among them: they concern every row.
ROW_ERRORS = (UnicodeError, ValueError, TypeError, OverflowError, sqlite3.IntegrityError, sqlite3.InterfaceError)


def _store(db, scored: Sequence[ScoredMention], *, routes_for, now: str, case_due: str, themes, model: str):
    """Insert the new mentions, replace the edited ones, with their themes; alerts and cases for every
    detractor among them (once per mention: an edit that turns a post into a complaint alerts, a second
    edit does not)."""
    inserted = insert_mentions(db, scored)
    done = {m.row.id for m in inserted}
    edited = update_edited(db, [m for m in scored if m.row.id not in done])
    if themes is not None and (inserted or edited):
        stored = inserted + edited
        record_themes(db, "mention", [m.row.id for m in stored], [m.row.text for m in stored],
                      [m.embedding for m in stored], [m.row.brand for m in stored], themes, model)
    return inserted, follow_up(db, inserted + edited, routes_for, now, case_due)


def _store_one_by_one(db, scored: Sequence[ScoredMention], store) -> tuple[list[ScoredMention], int, int]:
    inserted, alerts, failed = [], 0, 0
    for mention in scored:
        try:
            with db.atomic():
                rows, queued = store(db, [mention])
        except ROW_ERRORS as exc:
            failed += 1
            log.warning("%s: not saved: %s: %s", mention.row.id, type(exc).__name__, exc)
            continue
        inserted += rows
        alerts += queued
    return inserted, alerts, failed


def follow_up(db: sqlite_utils.Database, inserted: Sequence[ScoredMention],
              routes_for: Callable[..., Sequence[Route]], now: str, case_due: str) -> int:
    """Every new detractor gets an alert and a follow-up case; returns the alerts queued."""
    queued = 0
    for mention in inserted:
        if mention.nps_class == DETRACTOR:
            row = mention.row
            queued += enqueue(db, DETRACTOR_ALERT, row.id, routes_for(DETRACTOR_ALERT, row.brand, row.source, row.lang),
                              now, mention_id=row.id, brand=row.brand, details=mention.alert_details)
            open_case(db, "mention", row.id, row.brand, case_due, now)
    return queued


def chunked(items: Iterable, size: int = CHUNK):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
