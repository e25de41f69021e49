"""The one scoring flow, for mentions and survey answers alike: score the texts in one batch, apply the
alert rule, and commit in one transaction per chunk the texts' scores, their themes, and an alert
and a follow-up case for every detractor, so that an alert exists exactly when its text does.

Whether a text alerts is ``listener.rules``: a survey answer by its score (0-6), a review by its
stars (1-2), else the unhappy-customer detector at the brand's preset and the text's language (a
model without a detector: a confident negative). A text the database refuses is logged and skipped,
and the rest of its chunk is saved.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import sqlite_utils

from listener.alerts.kinds import DETRACTOR_ALERT, RESPONSE_ALERT
from listener.sources.base import MentionRow
from listener.store import surveys as store_surveys
from listener.store.alerts import Route, enqueue
from listener.store.cases import open_case
from listener.store.mentions import ScoredMention, insert_mentions, known_revisions, update_edited
from listener.store.surveys import Answer
from sentiment.scoring import Score, Scorer
from surveys.nps import DETRACTOR
from surveys.responses import save_score

from .rules import AlertRules, Verdict
from .themes.assignments import record as record_themes
from .themes.matching import ThemeMatcher

CHUNK = 256
log = logging.getLogger(__name__)
RoutesFor = Callable[..., Sequence[Route]]
# What a single bad row can raise on insert (an unencodable character, a number too big for SQLite);
# "database is locked" and I/O errors are not among them: they concern every row.
ROW_ERRORS = (UnicodeError, ValueError, TypeError, OverflowError, sqlite3.IntegrityError, sqlite3.InterfaceError)


@dataclass
class Counts:
    fetched: int = 0  # items read from the source, good or bad
    new: int = 0
    scored: int = 0
    detractors: int = 0
    skipped: int = 0  # well-formed but not about a brand
    errors: int = 0  # malformed items, or rows the database refused
    alerts_enqueued: int = 0

    def add(self, other: Counts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Text:
    """What the flow needs of anything it scores: a mention or a survey answer."""

    kind: str  # "mention" or "response" (the case's and the alert's subject kind)
    id: str
    brand: str
    text: str
    lang: str | None = None
    source: str | None = None  # a mention's source (alert routing by source)
    rating: int | None = None  # a review's stars
    survey_class: str | None = None  # a survey answer's class, from its 0-10 score
    person: str | None = None  # who wrote it ("x:giulia_rm", "customer:12"): one case per person and window


@dataclass(frozen=True)
class Judged:
    text: Text
    score: Score
    nps_class: str
    verdict: Verdict
    why: dict  # what the alert says of the rule that fired


@dataclass(frozen=True)
class Flow:
    """The world the flow runs in: the scorer, the brands' alert rules, alert routes, themes, clock."""

    scorer: Scorer
    rules: AlertRules
    routes_for: RoutesFor
    now: str
    case_due: str
    themes: ThemeMatcher | None = None
    group_since: str | None = None  # a person's open case since then takes their new texts (the grouping window)


def judge(texts: Sequence[Text], flow: Flow) -> list[Judged]:
    """Score the texts in one batch (blank ones without the model) and apply the alert rule."""
    scores = flow.scorer.score([t.text for t in texts]) if texts else []
    judged = []
    for text, score in zip(texts, scores, strict=True):
        nps_class, verdict = flow.rules.classify(text.brand, text.lang, score, flow.scorer.detector, text.rating,
                                                 text.survey_class)
        why = {"rule": verdict.rule, "threshold": verdict.threshold, "preset": flow.rules.preset(text.brand)}
        judged.append(Judged(text, score, nps_class, verdict, why))
    return judged


def follow_up(db: sqlite_utils.Database, judged: Sequence[Judged], flow: Flow) -> int:
    """Themes for every text with words (its embedding kept), and an alert and a case for every
    detractor; returns the alerts queued. The caller holds the transaction."""
    worded = [j for j in judged if j.text.text.strip()]
    if flow.themes is not None:
        for kind in {j.text.kind for j in worded}:
            mine = [j for j in worded if j.text.kind == kind]
            record_themes(db, kind, [_subject_id(j.text) for j in mine], [j.text.text for j in mine],
                          [j.score.embedding for j in mine], [j.text.brand for j in mine], flow.themes,
                          flow.scorer.name)
    queued = 0
    for item in judged:
        if item.nps_class == DETRACTOR:
            queued += _alert(db, item, flow)
            open_case(db, item.text.kind, item.text.id, item.text.brand, flow.case_due, flow.now, item.text.person,
                      flow.group_since)
    return queued


def _subject_id(text: Text):
    return int(text.id) if text.kind == "response" else text.id


def _alert(db, item: Judged, flow: Flow) -> int:
    text = item.text
    if text.kind == "response":
        facts = asdict(store_surveys.answer_facts(db, int(text.id)))
        return enqueue(db, RESPONSE_ALERT, f"response:{text.id}", flow.routes_for(RESPONSE_ALERT, text.brand),
                       flow.now, brand=text.brand, details=facts)
    return enqueue(db, DETRACTOR_ALERT, text.id, flow.routes_for(DETRACTOR_ALERT, text.brand, text.source, text.lang),
                   flow.now, mention_id=text.id, brand=text.brand, details=item.why)


def in_transactions(db: sqlite_utils.Database, items: Sequence, store: Callable[[Sequence], object],
                    then: Callable[[sqlite_utils.Database], None] | None = None,
                    on_refused: Callable[[object, Exception], None] | None = None) -> tuple[list, int]:
    """``store(items)`` in one transaction (with ``then``, e.g. a cursor's move); if the database
    refuses a row, each item in its own transaction, the refused ones skipped (``on_refused``) and
    ``then`` committed after. Returns (what each successful store returned, items refused)."""
    try:
        with db.atomic():
            results = [store(items)]
            if then is not None:
                then(db)
        return results, 0
    except ROW_ERRORS:
        pass
    results, refused = [], 0
    for item in items:
        try:
            with db.atomic():
                results.append(store([item]))
        except ROW_ERRORS as exc:
            refused += 1
            if on_refused is not None:
                on_refused(item, exc)
    if then is not None:
        with db.atomic():
            then(db)
    return results, refused


# ---- mentions ----------------------------------------------------------------------------------

def mention_text(row: MentionRow) -> Text:
    person = f"{row.source}:{row.author.casefold()}" if row.author else None
    return Text("mention", row.id, row.brand, row.text, row.lang, row.source, row.rating, person=person)


def score_columns(item: Judged, model: str) -> dict:
    """The columns a mention's score fills: sentiment, class, the detector's probability and rule."""
    s, v = item.score, item.verdict
    return {"sentiment": s.label, "sentiment_score": s.confidence, "p_negative": s.negative, "p_neutral": s.neutral,
            "p_positive": s.positive, "model": model, "nps_class": item.nps_class, "p_unhappy": v.p_unhappy,
            "alert_rule": v.rule if v.alert else None, "alert_threshold": v.threshold if v.rule == "detector" else None}


def scored_mention(row: MentionRow, item: Judged, model: str) -> ScoredMention:
    return ScoredMention(row, **score_columns(item, model), alert_details=item.why, embedding=item.score.embedding)


def save_chunk(db: sqlite_utils.Database, rows: Sequence[MentionRow], scorer: Scorer, rules: AlertRules,
               routes_for: RoutesFor, now: str, then: Callable[[sqlite_utils.Database], None] | None = None,
               case_due: str | None = None, themes: ThemeMatcher | None = None,
               group_since: str | None = None) -> Counts:
    """Score the mentions not yet stored (and the newer revisions of edited ones) and commit them with
    their themes, alerts and cases in one transaction. ``then`` runs inside that transaction:
    collectors advance their cursor there, so a cursor never moves past rows that were not committed.
    The counts say what this call inserted: another process importing the same rows at the same time
    inserts the rest."""
    flow = Flow(scorer, rules, routes_for, now, case_due or now, themes, group_since)
    work = _new_or_edited(db, rows)
    judged = judge([mention_text(r) for r in work], flow)
    pairs = [(scored_mention(row, item, scorer.name), item) for row, item in zip(work, judged)]

    def store(batch):
        inserted = insert_mentions(db, [m for m, _ in batch])
        done = {m.row.id for m in inserted}
        edited = update_edited(db, [m for m, _ in batch if m.row.id not in done])
        changed = {m.row.id for m in inserted + edited}
        return inserted, follow_up(db, [j for m, j in batch if m.row.id in changed], flow)

    def refused(pair, exc):
        log.warning("%s: not saved: %s: %s", pair[0].row.id, type(exc).__name__, exc)

    results, failed = in_transactions(db, pairs, store, then, refused)
    inserted = [m for rows_in, _ in results for m in rows_in]
    return Counts(new=len(inserted), scored=len(pairs), detractors=sum(m.nps_class == DETRACTOR for m in inserted),
                  errors=failed, alerts_enqueued=sum(queued for _, queued in results))


def _new_or_edited(db, rows: Sequence[MentionRow]) -> list[MentionRow]:
    """The rows not stored yet, and those that are a newer revision of a stored one (one per id)."""
    known = known_revisions(db, [r.id for r in rows])
    latest: dict[str, MentionRow] = {}  # in-chunk repeats: one row, its latest revision
    for row in rows:
        if row.id not in latest or (row.revision or 0) > (latest[row.id].revision or 0):
            latest[row.id] = row
    fresh = [r for r in latest.values() if r.id not in known]
    edited = [r for r in latest.values() if r.id in known and r.revision and r.revision > (known[r.id] or 0)]
    return fresh + edited


# ---- survey answers --------------------------------------------------------------------------

def answer_text(answer: Answer) -> Text:
    person = f"customer:{answer.customer_id}" if answer.customer_id else None
    return Text("response", str(answer.id), answer.brand, answer.comment or "", survey_class=answer.nps_class,
                person=person)


def save_answers(db: sqlite_utils.Database, answers: Sequence[Answer], flow: Flow, review_threshold: float
                 ) -> tuple[int, int]:
    """Score survey answers' comments and store their sentiment with their themes, alerts and cases;
    an answer that cannot be stored is marked scored all the same (not retried on every run).
    Returns (answers scored, detractors followed up)."""
    judged = judge([answer_text(a) for a in answers], flow)

    def store(batch):
        for answer, item in batch:
            save_score(db, answer, item.score if answer.comment else None, flow.scorer.name, review_threshold,
                       flow.now)
        follow_up(db, [item for _, item in batch], flow)
        return sum(item.nps_class == DETRACTOR for _, item in batch)

    def refused(pair, exc):
        log.error("survey answer %s: not followed up: %s: %s", pair[0].id, type(exc).__name__, exc)
        with db.atomic():
            store_surveys.mark_scored(db, pair[0].id, flow.now)

    results, _ = in_transactions(db, list(zip(answers, judged)), store, on_refused=refused)
    return len(answers), sum(results)


def chunked(items: Iterable, size: int = CHUNK):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
