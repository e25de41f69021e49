"""The report's charts as shapes: the geometry is computed here, the SVG markup written by the
template (``templates/charts.html``), auto-escaped like every page.

Charts are drawn server-side: the page needs no scripts and no external assets, so it opens offline,
passes strict mail and proxy policies, and the same markup goes into the digest email. They are drawn
480 units wide with 13-unit labels: scaled to a 390 px phone that is about 10 px text, on a desktop
page (at most 640 px wide) about 17 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from listener.kernel.i18n import N_, localized
from surveys.nps import Nps

WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM_MARGIN = 46, 14, 14, 46
LABEL, SMALL = 13, 11  # font sizes
COLOURS = {"negative": "#c0392b", "neutral": "#95a5a6", "positive": "#27ae60"}
CLASS_COLOURS = {"detractor": "#c0392b", "passive": "#b7950b", "promoter": "#27ae60"}
INK, GRID, LINE = "#333", "#e3e3e3", "#1d4ed8"

TEXT = {
    "nps_title": N_("NPS per week with its 95% interval"),
    "nps_legend": N_("week (line: NPS; band: its 95% interval)"),
    "nps_point": N_("{week}: NPS {score}, 95% interval {low} to {high}, {n} answers"),
    "no_answers": N_("No survey answers in this period."),
    "scores_title": N_("Survey answers per score, 0 to 10"),
    "scores_axis": N_("answers"),
    "scores_legend": N_("score (0-6 detractors, 7-8 passives, 9-10 promoters)"),
    "score_bar": N_("score {score}: {n} answers"),
    "mentions_title": N_("Mentions per day by tone"),
    "mentions_axis": N_("mentions"),
    "no_mentions": N_("No mentions in this period."),
    "day": N_("day"),
    "negative": N_("negative"),
    "neutral": N_("neutral"),
    "positive": N_("positive"),
}


@dataclass(frozen=True)
class Shape:
    """One SVG element: ``kind`` (rect, line, text, polygon, polyline, circle), its attributes, the
    text it shows and its tooltip."""

    kind: str
    attrs: dict
    text: str = ""
    title: str = ""


@dataclass
class Chart:
    label: str  # what the chart shows, for screen readers and as its title
    shapes: list[Shape] = field(default_factory=list)
    empty: str | None = None  # the sentence shown instead, when there is nothing to draw
    width: int = WIDTH
    height: int = HEIGHT

    def add(self, kind: str, text: str = "", title: str = "", **attrs) -> None:
        self.shapes.append(Shape(kind, {k.replace("_", "-"): _number(v) for k, v in attrs.items()}, text, title))


def signed(value: float) -> str:
    """NPS points as people read them: +21, -7, 0 (never "-0")."""
    rounded = round(value)
    return f"{rounded:+d}" if rounded else "0"


def _number(value):
    return f"{value:.1f}" if isinstance(value, float) else value


def nice_ticks(peak: int) -> list[int]:
    """Round tick values from 0 to at least ``peak``: steps of 1, 2 or 5 times a power of ten, six at most."""
    magnitude = 10 ** max(math.floor(math.log10(max(peak, 1) / 5)), 0)
    step = next(m * magnitude for m in (1, 2, 5, 10) if max(peak, 1) / (m * magnitude) <= 5)
    top = -(-max(peak, 1) // step) * step
    return list(range(0, top + 1, step))


def _y_axis(chart: Chart, ticks: list[tuple[float, str]], title: str) -> None:
    """Grid lines with their labels, the axis line and its title (rotated)."""
    bottom = chart.height - BOTTOM_MARGIN
    for y, text in ticks:
        chart.add("line", x1=LEFT, x2=chart.width - RIGHT, y1=y, y2=y, stroke=GRID)
        chart.add("text", text, x=LEFT - 5, y=y + 4.0, font_size=SMALL, text_anchor="end", fill=INK)
    chart.add("line", x1=LEFT, x2=LEFT, y1=TOP, y2=bottom, stroke="#555")
    middle = (TOP + bottom) / 2
    chart.add("text", title, x=12, y=middle, font_size=SMALL, text_anchor="middle", fill=INK,
              transform=f"rotate(-90 12 {middle:.1f})")


def _legend(chart: Chart, text: str) -> None:
    chart.add("text", text, x=(LEFT + chart.width - RIGHT) / 2, y=float(chart.height - 8), font_size=SMALL,
              text_anchor="middle", fill=INK)


def nps_chart(weekly: list[tuple[str, Nps]], lang: str = "en") -> Chart:
    """NPS per week: a line with its 95% interval as a band, on the full -100..100 scale."""
    t = localized(lang, TEXT)
    points = [(week, value) for week, value in weekly if value.score is not None]
    chart = Chart(t["nps_title"])
    if not points:
        chart.empty = t["no_answers"]
        return chart
    bottom, plot_w = chart.height - BOTTOM_MARGIN, chart.width - LEFT - RIGHT - 16
    step = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + 8 + i * step if len(points) > 1 else LEFT + 8 + plot_w / 2

    def y(v: float) -> float:
        return TOP + (100 - v) / 200 * (bottom - TOP)

    _y_axis(chart, [(y(v), f"{v:+d}") for v in (-100, -50, 0, 50, 100)], "NPS")
    band = [f"{x(i):.1f},{y(v.high):.1f}" for i, (_, v) in enumerate(points)]
    band += [f"{x(i):.1f},{y(v.low):.1f}" for i, (_, v) in reversed(list(enumerate(points)))]
    chart.add("polygon", points=" ".join(band), fill=LINE, fill_opacity="0.15")
    chart.add("polyline", points=" ".join(f"{x(i):.1f},{y(v.score):.1f}" for i, (_, v) in enumerate(points)),
              fill="none", stroke=LINE, stroke_width="2")
    every = max(math.ceil(len(points) / 8), 1)  # at most 8 week labels: readable on a phone
    for i, (week, v) in enumerate(points):
        title = t["nps_point"].format(week=week, score=signed(v.score), low=signed(v.low), high=signed(v.high),
                                      n=v.responses)
        chart.add("circle", title=title, cx=x(i), cy=y(v.score), r="4", fill=LINE)
        chart.add("text", signed(v.score), x=x(i), y=y(v.score) - 8, font_size=SMALL, text_anchor="middle",
                  fill=INK)
        if i % every == 0:
            chart.add("text", week.split("-")[-1], x=x(i), y=float(bottom + 17), font_size=LABEL,
                      text_anchor="middle", fill=INK)
    _legend(chart, t["nps_legend"])
    return chart


def score_chart(counts: list[int], lang: str = "en") -> Chart:
    """How many answers gave each score, 0 to 10, coloured by NPS class."""
    t = localized(lang, TEXT)
    chart = Chart(t["scores_title"])
    if not any(counts):
        chart.empty = t["no_answers"]
        return chart
    bottom = chart.height - BOTTOM_MARGIN
    ticks = nice_ticks(max(counts))
    scale = (bottom - TOP) / ticks[-1]
    _y_axis(chart, [(bottom - v * scale, str(v)) for v in ticks], t["scores_axis"])
    bar_w = (chart.width - LEFT - RIGHT) / 11
    for score, n in enumerate(counts):
        kind = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
        h, x = n * scale, LEFT + score * bar_w
        chart.add("rect", title=t["score_bar"].format(score=score, n=n), x=x + 2, y=bottom - h, width=bar_w - 4,
                  height=float(h), fill=CLASS_COLOURS[kind])
        chart.add("text", str(score), x=x + bar_w / 2, y=float(bottom + 17), font_size=LABEL, text_anchor="middle",
                  fill=INK)
        if n:
            chart.add("text", str(n), x=x + bar_w / 2, y=bottom - h - 4, font_size=SMALL, text_anchor="middle",
                      fill=INK)
    _legend(chart, t["scores_legend"])
    return chart


def mentions_chart(daily: list[tuple[str, int, int, int]], lang: str = "en") -> Chart:
    """Mentions per day, stacked by tone, with a key."""
    t = localized(lang, TEXT)
    chart = Chart(t["mentions_title"])
    if not daily:
        chart.empty = t["no_mentions"]
        return chart
    bottom = chart.height - BOTTOM_MARGIN
    ticks = nice_ticks(max(n + u + p for _, n, u, p in daily))
    scale = (bottom - TOP) / ticks[-1]
    _y_axis(chart, [(bottom - v * scale, str(v)) for v in ticks], t["mentions_axis"])
    bar_w = (chart.width - LEFT - RIGHT) / len(daily)
    every = max(math.ceil(len(daily) / 6), 1)  # at most 6 day labels
    for i, (day, *counts) in enumerate(daily):
        base = float(bottom)
        for tone, count in zip(("negative", "neutral", "positive"), counts):
            h = count * scale
            base -= h
            chart.add("rect", title=f"{day}: {count} {t[tone]}", x=LEFT + i * bar_w + 1, y=base,
                      width=max(bar_w - 2, 1.0), height=float(h), fill=COLOURS[tone])
        if i % every == 0:
            chart.add("text", f"{day[8:10]}/{day[5:7]}", x=LEFT + i * bar_w + bar_w / 2, y=float(bottom + 17),
                      font_size=LABEL, text_anchor="middle", fill=INK)
    for i, tone in enumerate(COLOURS):
        x = LEFT + 20 + 125 * i
        chart.add("rect", x=x, y=chart.height - 18, width="11", height="11", fill=COLOURS[tone])
        chart.add("text", t[tone], x=x + 15, y=chart.height - 8, font_size=SMALL, fill=INK)
    return chart
