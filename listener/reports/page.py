"""The report as text (terminal) and as one self-contained HTML page with inline SVG charts.

Charts are drawn here, server-side, as SVG: the page needs no scripts and no external assets, so it
opens offline, passes strict mail and proxy policies, and the same markup goes into the digest email.
"""

from __future__ import annotations

import json
import math
from html import escape

from surveys.nps import Nps

from .figures import MIN_SAMPLE, BrandReport


def _nps_text(value: Nps) -> str:
    if value.score is None:
        return "no responses"
    return f"{value.score:+.0f} (95% CI {value.low:+.0f} to {value.high:+.0f}, n={value.responses})"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def text_report(report: BrandReport) -> str:
    p = report.period
    s = report.survey
    lines = [
        f"{report.brand}: {p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}",
        f"  NPS {_nps_text(s)}",
        f"  promoters {s.promoters}  passives {s.passives}  detractors {s.detractors}",
        f"  previous period NPS {_nps_text(report.previous_survey)}",
    ]
    if report.change is not None:
        verdict = "significant" if report.change.significant else "not significant"
        lines.append(f"  change {report.change.delta:+.0f} points ({verdict} at 95%: "
                     f"{report.change.low:+.0f} to {report.change.high:+.0f})")
    if report.small_sample:
        lines.append(f"  warning: fewer than {MIN_SAMPLE} responses in a period; treat the NPS as a rough guide")
    lines.append(f"  response rate {_percent(report.response_rate)} "
                 f"({report.responses_to_invitations} of {report.invitations_sent} invitations sent)")
    lines.append(f"  mentions {report.mentions}, negative {_percent(report.negative_share)}; "
                 f"mention NPS {_nps_text(report.mention_nps)}")
    if report.top_detractor_words:
        lines.append("  detractors talk about: " + ", ".join(f"{w} ({n})" for w, n in report.top_detractor_words))
    if report.drivers:
        lines.append("  themes (NPS of answers with the theme vs without; share of detractors; negative mentions):")
        for d in report.drivers:
            gap = f", gap {d.gap.delta:+.0f}{' significant' if d.gap.significant else ''}" if d.gap else ""
            lines.append(f"    {d.label}: NPS {_short(d.nps_with)} vs {_short(d.nps_without)}{gap}; "
                         f"{_percent(d.share['detractor'])} of detractors; {d.tone['negative']} of {d.mentions} "
                         f"mentions negative")
    for c in report.candidates:
        lines.append(f"  candidate theme: {' / '.join(json.loads(c['words']))} ({c['size']} complaints without a theme)")
    return "\n".join(lines)


def _short(value: Nps) -> str:
    return "-" if value.score is None else f"{value.score:+.0f} (n={value.responses})"


COLOURS = {"negative": "#c0392b", "neutral": "#95a5a6", "positive": "#27ae60"}
CLASS_COLOURS = {"detractor": "#c0392b", "passive": "#b7950b", "promoter": "#27ae60"}
AXIS = 'stroke="#555" stroke-width="1"'
FONT = 'font-family="system-ui, Arial, sans-serif"'


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(label)}" {FONT}><title>{escape(label)}</title>'
            f'{body}</svg>')


def _y_axis(ticks: list[tuple[float, str]], left: int, right: int, title: str, top: int, bottom: int) -> str:
    """Grid lines with their labels, the axis line and its title (rotated)."""
    lines = "".join(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{escape(text)}</text>'
                    for y, text in ticks)
    middle = (top + bottom) / 2
    return (lines + f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" {AXIS}/>'
            f'<text x="12" y="{middle:.1f}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {middle:.1f})">{escape(title)}</text>')


def nps_chart(weekly: list[tuple[str, Nps]], width: int = 640, height: int = 240) -> str:
    """NPS per week: a line with its 95% interval as a band, on the full -100..100 scale."""
    points = [(week, value) for week, value in weekly if value.score is not None]
    if not points:
        return "<p>No survey responses in this period.</p>"
    left, right, top, bottom = 52, 40, 12, height - 42
    plot_w = width - left - right
    step = plot_w / max(len(points) - 1, 1)

    def x(i):
        return left + i * step if len(points) > 1 else left + plot_w / 2

    def y(v):
        return top + (100 - v) / 200 * (bottom - top)

    band = [f"{x(i):.1f},{y(v.high):.1f}" for i, (_, v) in enumerate(points)]
    band += [f"{x(i):.1f},{y(v.low):.1f}" for i, (_, v) in reversed(list(enumerate(points)))]
    line = " ".join(f"{x(i):.1f},{y(v.score):.1f}" for i, (_, v) in enumerate(points))
    axis = _y_axis([(y(v), f"{v:+d}") for v in (-100, -50, 0, 50, 100)], left, width - right, "NPS", top, bottom)
    labels = "".join(f'<text x="{x(i):.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{escape(w)}</text>'
                     for i, (w, _) in enumerate(points))
    dots = "".join(f'<circle cx="{x(i):.1f}" cy="{y(v.score):.1f}" r="3.5" fill="#1d4ed8"><title>{escape(w)}: '
                   f'NPS {v.score:+.0f}, 95% CI {v.low:+.0f} to {v.high:+.0f}, n={v.responses}</title></circle>'
                   f'<text x="{x(i):.1f}" y="{y(v.score) - 8:.1f}" font-size="10" text-anchor="middle">'
                   f'{v.score:+.0f}</text>' for i, (w, v) in enumerate(points))
    legend = (f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">'
              f'week (line: NPS; band: its 95% interval)</text>')
    body = (f'{axis}<polygon points="{" ".join(band)}" fill="#1d4ed8" fill-opacity="0.15"/>'
            f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>{dots}{labels}{legend}')
    return _svg(width, height, "NPS per week with its 95% interval", body)


def _nice_ticks(peak: int) -> list[int]:
    """Round tick values from 0 to at least ``peak``: steps of 1, 2 or 5 times a power of ten, six at most."""
    magnitude = 10 ** max(math.floor(math.log10(max(peak, 1) / 5)), 0)
    step = next(m * magnitude for m in (1, 2, 5, 10) if max(peak, 1) / (m * magnitude) <= 5)
    top = -(-max(peak, 1) // step) * step
    return list(range(0, top + 1, step))


def score_chart(counts: list[int], width: int = 640, height: int = 220) -> str:
    """How many answers gave each score, 0 to 10, coloured by NPS class."""
    if not any(counts):
        return "<p>No survey responses in this period.</p>"
    left, right, top, bottom = 52, 16, 12, height - 42
    ticks = _nice_ticks(max(counts))
    scale = (bottom - top) / ticks[-1]
    bar_w = (width - left - right) / 11
    bars = []
    for score, n in enumerate(counts):
        kind = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
        h = n * scale
        x = left + score * bar_w
        bars.append(f'<rect x="{x + 3:.1f}" y="{bottom - h:.1f}" width="{bar_w - 6:.1f}" height="{h:.1f}" '
                    f'fill="{CLASS_COLOURS[kind]}"><title>score {score}: {n} answers ({kind})</title></rect>'
                    f'<text x="{x + bar_w / 2:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{score}</text>'
                    + (f'<text x="{x + bar_w / 2:.1f}" y="{bottom - h - 4:.1f}" font-size="10" '
                       f'text-anchor="middle">{n}</text>' if n else ""))
    axis = _y_axis([(bottom - t * scale, str(t)) for t in ticks], left, width - right, "answers", top, bottom)
    legend = (f'<text x="{left + (width - left - right) / 2:.1f}" y="{height - 6}" font-size="11" '
              f'text-anchor="middle">score (0-6 detractors, 7-8 passives, 9-10 promoters)</text>')
    return _svg(width, height, "Survey answers per score, 0 to 10", axis + "".join(bars) + legend)


def mentions_chart(daily: list[tuple[str, int, int, int]], width: int = 640, height: int = 240) -> str:
    """Mentions per day, stacked by tone."""
    if not daily:
        return "<p>No mentions in this period.</p>"
    left, right, top, bottom = 52, 16, 12, height - 42
    ticks = _nice_ticks(max(n + u + p for _, n, u, p in daily))
    scale = (bottom - top) / ticks[-1]
    bar_w = (width - left - right) / len(daily)
    bars = []
    for i, (day, neg, neu, pos) in enumerate(daily):
        base = bottom
        for label, count in (("negative", neg), ("neutral", neu), ("positive", pos)):
            h = count * scale
            base -= h
            bars.append(f'<rect x="{left + i * bar_w + 1:.1f}" y="{base:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                        f'height="{h:.1f}" fill="{COLOURS[label]}"><title>{escape(day)}: {count} {label}</title></rect>')
    every = max(len(daily) // 7, 1)
    days = "".join(f'<text x="{left + i * bar_w + bar_w / 2:.1f}" y="{bottom + 16}" font-size="10" '
                   f'text-anchor="middle">{escape(day[5:])}</text>' for i, (day, *_r) in enumerate(daily) if i % every == 0)
    axis = _y_axis([(bottom - t * scale, str(t)) for t in ticks], left, width - right, "mentions", top, bottom)
    key = "".join(f'<rect x="{left + 90 * i + 100}" y="{height - 16}" width="10" height="10" fill="{c}"/>'
                  f'<text x="{left + 90 * i + 114}" y="{height - 7}" font-size="11">{k}</text>'
                  for i, (k, c) in enumerate(COLOURS.items()))
    return _svg(width, height, "Mentions per day by tone",
                axis + "".join(bars) + days + f'<text x="{left}" y="{height - 7}" font-size="11">day (MM-DD)</text>' + key)


def _cell_nps(value: Nps) -> str:
    if value.score is None:
        return "-"
    return f"{value.score:+.0f} <small>({value.low:+.0f} to {value.high:+.0f}, n={value.responses})</small>"


def themes_table(drivers: list) -> str:
    """Each theme's drivers, the most harmful first, with example detractor comments."""
    if not drivers:
        return "<p>No themes in this period.</p>"
    rows = []
    for d in drivers:
        gap = "-" if d.gap is None else (f"{d.gap.delta:+.0f}" + (" <b>significant</b>" if d.gap.significant else ""))
        change = "-" if d.change is None else (f"{d.change.delta:+.0f}" + (" <b>significant</b>" if d.change.significant
                                                                            else ""))
        share = d.share.get("detractor")
        examples = "".join(f"<li>{escape(e)}</li>" for e in d.examples)
        cells = (_cell_nps(d.nps_with), _cell_nps(d.nps_without), gap, _percent(share), change,
                 f"{d.tone['negative']} / {d.mentions}", f"<ul>{examples}</ul>" if examples else "")
        rows.append(f"<tr><th scope=row>{escape(d.label)}</th>"
                    + "".join(f'<td data-label="{head}">{cell}</td>' for head, cell in zip(THEME_COLUMNS[1:], cells))
                    + "</tr>")
    heads = "".join(f"<th>{head}</th>" for head in THEME_COLUMNS)
    return f"<table class=themes><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


THEME_COLUMNS = ("Theme", "NPS with it", "NPS without", "Gap", "Of detractors", "Change vs previous",
                 "Negative mentions", "Detractors say")


def _headline(report: BrandReport) -> str:
    s = report.survey
    if s.score is None:
        main = "<p class=big>NPS: no answers yet</p>"
    else:
        main = (f'<p class=big>NPS {s.score:+.0f}</p><p>95% interval {s.low:+.0f} to {s.high:+.0f}, '
                f'{s.responses} answers: {s.promoters} promoters, {s.passives} passives, {s.detractors} detractors</p>')
    change = ""
    if report.change is not None:
        verdict = "significant" if report.change.significant else "not significant"
        change = (f"<p>{report.change.delta:+.0f} points against the previous period ({verdict} at 95%)</p>")
    small = (f"<p class=warn>Fewer than {MIN_SAMPLE} answers in a period: treat the NPS as a rough guide.</p>"
             if report.small_sample and s.score is not None else "")
    return (f'<div class=card>{main}{change}{small}<p>Mentions {report.mentions}, negative '
            f'{_percent(report.negative_share)}; response rate {_percent(report.response_rate)}</p></div>')


def _candidates(report: BrandReport) -> str:
    if not report.candidates:
        return ""
    items = "".join(f"<li><b>{escape(' / '.join(json.loads(c['words'])))}</b> ({c['size']} complaints): "
                    f"<i>{escape(json.loads(c['examples'])[0]) if json.loads(c['examples']) else ''}</i></li>"
                    for c in report.candidates)
    return f"<h3>Possible new themes</h3><p>Complaints that no theme covers, grouped:</p><ul>{items}</ul>"


STYLE = """
body{font-family:system-ui,Arial,sans-serif;max-width:60rem;margin:auto;padding:1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{border-bottom:2px solid #1d4ed8;padding-bottom:.2rem}
.card{background:#f6f5f2;border-radius:8px;padding:.5rem 1rem}.big{font-size:2rem;font-weight:700;margin:.2rem 0}
.warn{color:#8a4b00}svg{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;font-size:.85rem;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem;
text-align:left;vertical-align:top}td ul{margin:0;padding-left:1rem}
@media (max-width:40rem){table.themes thead{display:none}table.themes tr{display:block;border-bottom:2px solid #ccc;
padding:.3rem 0}table.themes th,table.themes td{display:block;border:0;padding:.1rem .3rem}
table.themes td::before{content:attr(data-label) ": ";font-weight:600}}
@media print{body{max-width:none}section{break-inside:avoid-page}}
"""


def html_report(reports: list[BrandReport], title: str = "Ascolto report", overdue: list[str] | None = None) -> str:
    """One page, no scripts, no external assets: it opens offline, prints, and goes into an email;
    with ``overdue``, the overdue cases after the brands (the weekly digest)."""
    sections = []
    for r in reports:
        sections.append(
            f"<section><h2>{escape(r.brand)}</h2><p>{r.period.start:%d %b %Y} to {r.period.end:%d %b %Y}</p>"
            f"{_headline(r)}<h3>NPS per week</h3>{nps_chart(r.weekly_nps)}"
            f"<h3>Answers per score</h3>{score_chart(r.score_counts)}"
            f"<h3>What drives the score: themes</h3>{themes_table(r.drivers)}{_candidates(r)}"
            f"<h3>Mentions per day by tone</h3>{mentions_chart(r.daily_mentions)}</section>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{"".join(sections)}'
            + (f'<h2>Overdue cases</h2><pre>{escape(chr(10).join(overdue) or "none")}</pre>' if overdue is not None else "")
            + '</body></html>')
