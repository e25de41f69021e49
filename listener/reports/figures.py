"""NPS and mention figures for a period, compared with the period before: what `ascolto report`,
the weekly digest and the charts show. Read-only queries; the arithmetic lives in sentiment.nps."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from listener.kernel.times import iso
from listener.kernel.words import top_words
from listener.store import replies as store_replies
from listener.store import reports
from listener.store import themes as store_themes
from surveys.nps import Change, Nps, nps, nps_change

from ..themes.drivers import brand_drivers

MIN_SAMPLE = 30  # below this many responses an NPS moves a lot by chance: say so
VERBATIMS = 6  # the latest survey comments the page quotes


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
    verbatims: list[tuple[str, int, str, str]] = field(default_factory=list)  # latest comments: when, score, class, text
    reply_hours: list[tuple[str, float]] = field(default_factory=list)  # (channel, hours to the first reply) per alert
    language: str = "en"  # of the page: the brand's

    @property
    def response_rate(self) -> float | None:
        return self.responses_to_invitations / self.invitations_sent if self.invitations_sent else None

    @property
    def negative_share(self) -> float | None:
        return self.negative_mentions / self.mentions if self.mentions else None

    @property
    def first_reply(self) -> dict[str, tuple[float, int]]:
        """Median hours from alert to first reply, and replies, per channel ("all" first)."""
        by: dict[str, list[float]] = {"all": [hours for _, hours in self.reply_hours]}
        for channel, hours in self.reply_hours:
            by.setdefault(channel, []).append(hours)
        return {channel: (statistics.median(values), len(values)) for channel, values in by.items() if values}

    @property
    def small_sample(self) -> bool:
        return self.survey.responses < MIN_SAMPLE or self.previous_survey.responses < MIN_SAMPLE


def _classes(db, brand: str, table: str, period: Period) -> Nps:
    return nps(*reports.class_counts(db, brand, table, iso(period.start), iso(period.end)))


def survey_nps(db, brand: str, period: Period) -> Nps:
    return _classes(db, brand, "survey_responses", period)


def weekly_nps(db, brand: str, period: Period) -> list[tuple[str, Nps]]:
    return [(week, nps(p, pa, d)) for week, p, pa, d in reports.weekly_class_counts(db, brand, iso(period.start),
                                                                                     iso(period.end))]


def brand_report(db: sqlite_utils.Database, brand: str, period: Period, taxonomy=None,
                 language: str = "en") -> BrandReport:
    """The brand's figures for the period; with a taxonomy, its theme drivers and candidate themes too."""
    current, previous = survey_nps(db, brand, period), survey_nps(db, brand, period.previous())
    start, end = iso(period.start), iso(period.end)
    sent, answered = reports.invitations_answered(db, brand, start, end)
    mentions, negative = reports.mention_tone(db, brand, start, end)
    return BrandReport(
        brand, period, current, previous, nps_change(current, previous), sent, answered, mentions, negative,
        _classes(db, brand, "mentions", period), top_words(reports.detractor_comments(db, brand, start, end)),
        weekly_nps(db, brand, period), reports.daily_mentions(db, brand, start, end),
        reports.score_counts(db, brand, start, end),
        brand_drivers(db, taxonomy, brand, period.start, period.end, language) if taxonomy is not None else [],
        store_themes.new_candidates(db, brand) if taxonomy is not None else [],
        verbatims=reports.recent_comments(db, brand, start, end, VERBATIMS), language=language,
        reply_hours=store_replies.first_reply_hours(db, brand, start, end))


def default_period(now: datetime, since: datetime | None = None, days: int = 28) -> Period:
    return Period(since or now - timedelta(days=days), now)
