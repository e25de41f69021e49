"""Spike and tone alerts: an hour with far more mentions of a brand than usual, or a far larger share
of negative ones.

The baseline of an hour is the same hour of the 7 days before it, so the daily rhythm (quiet nights,
busy lunch breaks) is expected rather than alarming. An hour is a volume spike when it has at least
``spike_min_mentions`` mentions, at least ``spike_ratio`` times its baseline, and a Poisson test puts
that many at a probability below ``spike_significance``; a tone spike likewise, with a binomial test
of its negative share against the baseline's. One alert per spike: an hour that continues a spike
alerted in the previous hours raises nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from listener.alerts.kinds import SPIKE_ALERT
from listener.alerts.settings import Alerts
from listener.kernel.times import iso
from listener.kernel.words import top_words
from listener.store.alerts import Route, alert_exists, enqueue
from listener.store.mentions import most_unhappy, posted_texts, tone_counts

BASELINE_DAYS = 7
SILENT_HOUR = 0.5  # the expected count of an hour that has been silent all week
MIN_TONE_RISE = 0.25  # the negative share must rise by at least this much, whatever the test says
CONTINUES_HOURS = 3  # a spike alerted this recently is the same spike


@dataclass(frozen=True)
class Spike:
    kind: str  # "volume" or "tone"
    count: int  # mentions in the hour
    baseline: float  # mean mentions in the same hour of the 7 days before
    negative: int
    share: float  # negative share in the hour
    baseline_share: float
    p_value: float


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), in log space (no overflow at large k)."""
    def term(i: int) -> float:
        return math.exp(i * math.log(mean) - mean - math.lgamma(i + 1))

    if k <= 0:
        return 1.0
    if k <= mean:  # a large tail: one minus the head loses no precision
        return max(0.0, 1.0 - sum(term(i) for i in range(k)))
    total, i = 0.0, k  # past the mean the terms shrink fast: sum the tail itself
    while True:
        total += term(i)
        if term(i) < total * 1e-12:
            return total
        i += 1


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
                                 + (n - i) * log_q) for i in range(k, n + 1)))


def detect(count: int, negative: int, history: Sequence[tuple[int, int]], settings: Alerts) -> list[Spike]:
    """The spikes of one hour, given (mentions, negative) of the same hour on each of the days before."""
    baseline = sum(c for c, _ in history) / len(history) if history else 0.0
    past, past_negative = sum(c for c, _ in history), sum(n for _, n in history)
    baseline_share = (past_negative + 1) / (past + 2)  # smoothed: a week without negatives is not proof of none
    share = negative / count if count else 0.0
    found = []
    if count >= settings.spike_min_mentions and count >= settings.spike_ratio * max(baseline, SILENT_HOUR):
        p = poisson_tail(count, max(baseline, SILENT_HOUR))
        if p < settings.spike_significance:
            found.append(Spike("volume", count, baseline, negative, share, baseline_share, p))
    if count >= settings.spike_min_mentions and share >= baseline_share + MIN_TONE_RISE:
        p = binomial_tail(negative, count, baseline_share)
        if p < settings.spike_significance:
            found.append(Spike("tone", count, baseline, negative, share, baseline_share, p))
    return found


def hour_counts(db: sqlite_utils.Database, brand: str, start: datetime) -> tuple[int, int]:
    """(mentions, negative mentions) of a brand posted in the hour from ``start``."""
    return tone_counts(db, brand, iso(start), iso(start + timedelta(hours=1)))


def check_hour(db: sqlite_utils.Database, brand: str, hour: datetime, settings: Alerts, routes: Sequence[Route],
               now: datetime) -> list[Spike]:
    """Look at the hour starting at ``hour``; queue one alert per new spike. Returns the spikes queued."""
    count, negative = hour_counts(db, brand, hour)
    history = [hour_counts(db, brand, hour - timedelta(days=day)) for day in range(1, BASELINE_DAYS + 1)]
    queued = []
    for spike in detect(count, negative, history, settings):
        if _continues(db, brand, spike.kind, hour):
            continue
        with db.atomic():
            if enqueue(db, SPIKE_ALERT, _subject(brand, spike.kind, hour), routes, iso(now), brand=brand,
                       details=_details(db, brand, spike, hour)):
                queued.append(spike)
    return queued


def _subject(brand: str, kind: str, hour: datetime) -> str:
    return f"spike:{brand}:{kind}:{hour:%Y-%m-%dT%H}"


def _continues(db, brand: str, kind: str, hour: datetime) -> bool:
    earlier = [_subject(brand, kind, hour - timedelta(hours=h)) for h in range(1, CONTINUES_HOURS + 1)]
    return alert_exists(db, SPIKE_ALERT, earlier)


def _details(db, brand: str, spike: Spike, hour: datetime) -> dict:
    start, end = iso(hour), iso(hour + timedelta(hours=1))
    texts = posted_texts(db, brand, start, end)
    examples = most_unhappy(db, brand, start, end)
    words = ", ".join(word for word, _ in top_words(texts, 8))
    if spike.kind == "volume":
        title = f"{brand}: {spike.count} mentions in the hour from {hour:%d/%m %H}:00 UTC, usually {spike.baseline:.1f}"
    else:
        title = (f"{brand}: {spike.share:.0%} negative mentions in the hour from {hour:%d/%m %H}:00 UTC, "
                 f"usually {spike.baseline_share:.0%}")
    lines = [f"{spike.count} mentions ({spike.negative} negative) against {spike.baseline:.1f} in the same hour of the "
             f"last {BASELINE_DAYS} days ({spike.baseline_share:.0%} negative); p = {spike.p_value:.2g}.",
             f"Words: {words or '-'}", "Examples:"]
    lines += [f"- {e.author or '?'} ({e.source}): {e.text[:200]} {e.url or ''}".rstrip() for e in examples]
    # title and body: the English summary kept with the alert; the message is written from the
    # figures, in the brand's language, when it is sent
    return {"title": title, "body": "\n".join(lines), "kind": spike.kind, "count": spike.count, "hour": iso(hour),
            "baseline": round(spike.baseline, 2), "negative": spike.negative, "share": round(spike.share, 3),
            "baseline_share": round(spike.baseline_share, 3), "p_value": spike.p_value, "words": words,
            "examples": [e.id for e in examples],
            "example_texts": [{"author": e.author, "source": e.source, "text": e.text[:500], "url": e.url}
                              for e in examples]}
