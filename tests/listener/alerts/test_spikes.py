"""Spike and tone alerts on generated series: a weekly rhythm and a slow drift raise nothing, a 5x burst
is caught within the hour, and a spike is alerted once."""

import math
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import pytest

from listener.alerts.settings import Alerts
from listener.alerts.spikes import binomial_tail, detect, poisson_tail
from listener.jobs.spikes import run_spikes

SETTINGS = Alerts()  # ratio 3, at least 10 mentions, p < 0.001
START = datetime(2026, 9, 7, tzinfo=timezone.utc)  # a Monday


def daily_shape(hour: int) -> float:
    """Mentions per hour over a day: quiet at night, peaks at lunch and in the evening."""
    return 2 + 10 * math.exp(-((hour - 13) / 3) ** 2) + 8 * math.exp(-((hour - 21) / 2) ** 2)


def series(days: int, level, seed: int = 0) -> list[tuple[int, int]]:
    """(mentions, negative) per hour; ``level(day, hour)`` is the expected count; 20% negative."""
    rng = np.random.default_rng(seed)
    out = []
    for day in range(days):
        for hour in range(24):
            count = int(rng.poisson(level(day, hour)))
            out.append((count, int(rng.binomial(count, 0.2))))
    return out


def alerts_in(hours: list[tuple[int, int]], first_day: int = 7) -> list[tuple[int, str]]:
    found = []
    for index in range(first_day * 24, len(hours)):
        history = [hours[index - 24 * d] for d in range(1, 8)]
        found += [(index, spike.kind) for spike in detect(*hours[index], history, SETTINGS)]
    return found


def test_the_tails_match_their_definitions():
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 3.0) == pytest.approx(1 - math.exp(-3))
    exact = float(sum(Fraction(10 ** i, math.factorial(i)) for i in range(30, 400))) * math.exp(-10)
    assert poisson_tail(30, 10.0) == pytest.approx(exact, rel=1e-9) == pytest.approx(2.51e-7, rel=1e-3)
    assert binomial_tail(3, 3, 0.5) == pytest.approx(0.125)
    assert binomial_tail(2, 4, 0.5) == pytest.approx(11 / 16)


def test_a_weekly_rhythm_raises_nothing():
    weekly = [1.0, 0.9, 0.9, 1.0, 1.3, 2.0, 1.8]  # weekends louder, about twice a Tuesday
    assert alerts_in(series(35, lambda day, hour: daily_shape(hour) * weekly[day % 7])) == []


def test_a_slow_drift_raises_nothing():
    assert alerts_in(series(60, lambda day, hour: daily_shape(hour) * 1.03 ** day)) == []


def test_a_five_fold_burst_is_caught_in_its_hour():
    burst_hour = 20 * 24 + 10
    level = lambda day, hour: daily_shape(hour) * (5 if day * 24 + hour == burst_hour else 1)  # noqa: E731
    assert alerts_in(series(28, level)) == [(burst_hour, "volume")]


def test_a_sudden_negative_tone_is_caught_even_at_usual_volume():
    hours = series(14, lambda day, hour: daily_shape(hour))
    index = 10 * 24 + 13
    count = hours[index][0]
    hours[index] = (count, int(count * 0.75))
    assert (index, "tone") in alerts_in(hours)


def test_the_job_alerts_once_per_spike_with_figures_and_examples(make_app, clock):
    app = make_app(mailer=None)
    clock.moment = START + timedelta(days=8, hours=11, minutes=2)
    rows = []
    for day in range(9):
        for hour in range(24):
            burst = day == 8 and hour in (9, 10)  # two hours of a storm: one alert
            for i in range(60 if burst else 4):
                created = START + timedelta(days=day, hours=hour, minutes=i % 60)
                rows.append({"id": f"x:{day}-{hour}-{i}", "source": "x", "native_id": f"{day}-{hour}-{i}",
                             "brand": "Caffè Aurora", "author": f"u{i}", "text": "Caffè Aurora app down, refund!"
                             if burst else "Caffè Aurora", "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "collected_at": "2026-11-23T09:00:00Z", "sentiment": "negative" if burst else "neutral",
                             "p_negative": 0.9 if burst else 0.1, "raw": "{}"})
    app.db["mentions"].insert_all(rows)
    clock.moment = START + timedelta(days=8, hours=10, minutes=2)
    first = run_spikes(app)
    assert [(brand, spike.kind) for brand, spike in first] == [("Caffè Aurora", "volume"), ("Caffè Aurora", "tone")]
    clock.advance(hours=1)
    assert run_spikes(app) == []  # the same storm, one hour later
    alert = next(app.db.query("select * from alerts where kind = 'spike' order by id"))
    details = __import__("json").loads(alert["details"])
    assert details["count"] == 60 and details["baseline"] == 4.0 and len(details["examples"]) == 5
    assert "refund" in details["words"] and details["title"].startswith("Caffè Aurora: 60 mentions")
    assert app.db.execute("select count(*) from deliveries").fetchone()[0] == 2  # one per spike kind, to cm@
