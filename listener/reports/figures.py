"""NPS and mention figures for a period, compared with the period before: what `ascolto report`,
the weekly digest and the charts show. Read-only queries; the arithmetic lives in sentiment.nps."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from listener.kernel.times import iso
from surveys.nps import Change, Nps, nps, nps_change

from ..themes.drivers import brand_drivers

MIN_SAMPLE = 30  # below this many responses an NPS moves a lot by chance: say so
STOPWORDS = set("""
a ad al alla alle allo agli ai anche ancora che chi ci come con da dal dalla dei del della delle di e è ed gli ha
hanno ho i il in io la le lo loro ma mi mio molto ne nei nel nella no non o per perché più poi quando quello
questa questo se si sia sono su sul sulla tra tu un una uno vi voi è stato stata fatto fare essere
the and a an of to in on for with is are was were be been it its this that i you my your we our they them
not no but so very too just have has had do did does at from as by or if than then there their what which
""".split())


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)


@dataclass
class BrandReport:
    brand: str
    period: Period
    survey: Nps
    previous_survey: Nps
    change: Change | None
    invitations_sent: int
    responses_to_invitations: int
    mentions: int
    negative_mentions: int
    mention_nps: Nps
    top_detractor_words: list[tuple[str, int]]
    weekly_nps: list[tuple[str, Nps]] = field(default_factory=list)
    daily_mentions: list[tuple[str, int, int, int]] = field(default_factory=list)  # day, neg, neu, pos
    score_counts: list[int] = field(default_factory=lambda: [0] * 11)  # answers per score 0..10
    drivers: list = field(default_factory=list)  # listener.themes.drivers.Driver, most harmful first
    candidates: list[dict] = field(default_factory=list)  # new candidate themes (theme_candidates rows)

    @property
    def response_rate(self) -> float | None:
        return self.responses_to_invitations / self.invitations_sent if self.invitations_sent else None

    @property
    def negative_share(self) -> float | None:
        return self.negative_mentions / self.mentions if self.mentions else None

    @property
    def small_sample(self) -> bool:
        return self.survey.responses < MIN_SAMPLE or self.previous_survey.responses < MIN_SAMPLE


def _classes(db, brand: str, table: str, time_column: str, period: Period) -> Nps:
    row = db.execute(
        f"select sum(nps_class = 'promoter'), sum(nps_class = 'passive'), sum(nps_class = 'detractor') "
        f"from {table} where brand = ? and {time_column} >= ? and {time_column} < ?",
        [brand, iso(period.start), iso(period.end)]).fetchone()
    return nps(*(value or 0 for value in row))


def survey_nps(db, brand: str, period: Period) -> Nps:
    return _classes(db, brand, "survey_responses", "answered_at", period)


def top_words(texts, limit: int = 10) -> list[tuple[str, int]]:
    counts = Counter()
    for text in texts:
        words = {w for w in re.findall(r"[^\W\d_]{3,}", (text or "").casefold()) if w not in STOPWORDS}
        counts.update(words)  # a word counts once per comment: what many people say, not one long rant
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def weekly_nps(db, brand: str, period: Period) -> list[tuple[str, Nps]]:
    rows = db.execute(
        "select strftime('%Y-W%W', answered_at) as week, sum(nps_class = 'promoter'), sum(nps_class = 'passive'), "
        "sum(nps_class = 'detractor') from survey_responses where brand = ? and answered_at >= ? and answered_at < ? "
        "group by week order by week", [brand, iso(period.start), iso(period.end)]).fetchall()
    return [(week, nps(p, pa, d)) for week, p, pa, d in rows]


def daily_mentions(db, brand: str, period: Period) -> list[tuple[str, int, int, int]]:
    return [tuple(r) for r in db.execute(
        "select substr(created_at, 1, 10) as day, sum(sentiment = 'negative'), sum(sentiment = 'neutral'), "
        "sum(sentiment = 'positive') from mentions where brand = ? and created_at >= ? and created_at < ? "
        "group by day order by day", [brand, iso(period.start), iso(period.end)])]


def score_counts(db, brand: str, period: Period) -> list[int]:
    counts = [0] * 11
    for score, n in db.execute("select score, count(*) from survey_responses where brand = ? and answered_at >= ? "
                               "and answered_at < ? group by score", [brand, iso(period.start), iso(period.end)]):
        counts[score] = n
    return counts


def new_candidates(db, brand: str) -> list[dict]:
    return [dict(r) for r in db.query("select id, size, words, examples, found_at from theme_candidates "
                                      "where brand = ? and status = 'new' order by found_at desc, size desc limit 5",
                                      [brand])]


def brand_report(db: sqlite_utils.Database, brand: str, period: Period, taxonomy=None,
                 language: str = "en") -> BrandReport:
    """The brand's figures for the period; with a taxonomy, its theme drivers and candidate themes too."""
    current, previous = survey_nps(db, brand, period), survey_nps(db, brand, period.previous())
    between = [brand, iso(period.start), iso(period.end)]
    sent, answered = db.execute(
        "select count(*), count(r.id) from survey_invitations i left join survey_responses r on r.invitation_id = i.id "
        "where i.brand = ? and i.sent_at >= ? and i.sent_at < ?", between).fetchone()
    mentions, negative = db.execute(
        "select count(*), coalesce(sum(sentiment = 'negative'), 0) from mentions "
        "where brand = ? and created_at >= ? and created_at < ?", between).fetchone()
    comments = [r[0] for r in db.execute(
        "select comment from survey_responses where brand = ? and nps_class = 'detractor' and answered_at >= ? "
        "and answered_at < ?", between)]
    return BrandReport(
        brand, period, current, previous, nps_change(current, previous), sent, answered, mentions, negative,
        _classes(db, brand, "mentions", "created_at", period), top_words(comments),
        weekly_nps(db, brand, period), daily_mentions(db, brand, period), score_counts(db, brand, period),
        brand_drivers(db, taxonomy, brand, period.start, period.end, language) if taxonomy is not None else [],
        new_candidates(db, brand) if taxonomy is not None else [])


def default_period(now: datetime, since: datetime | None = None, days: int = 28) -> Period:
    return Period(since or now - timedelta(days=days), now)
