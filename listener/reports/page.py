"""The report as text (terminal) and as one self-contained HTML page with inline SVG charts.

Charts are drawn here, server-side, as SVG: the page needs no scripts and no external assets, so it
opens offline, passes strict mail and proxy policies, and the same markup goes into the digest email.
"""

from __future__ import annotations

from html import escape

from sentiment.nps import Nps

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
    return "\n".join(lines)


def nps_chart(weekly: list[tuple[str, Nps]], width: int = 560, height: int = 220) -> str:
    """NPS per week: a line with its 95% interval as a band; the scale is -100..100."""
    points = [(week, value) for week, value in weekly if value.score is not None]
    if not points:
        return "<p>No survey responses in this period.</p>"
    left, right, top, bottom = 40, 36, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)

    def x(i):
        return left + i * step if len(points) > 1 else left + plot_w / 2

    def y(v):
        return top + (100 - v) / 200 * plot_h

    band = [f"{x(i):.1f},{y(v.high):.1f}" for i, (_, v) in enumerate(points)]
    band += [f"{x(i):.1f},{y(v.low):.1f}" for i, (_, v) in reversed(list(enumerate(points)))]
    line = " ".join(f"{x(i):.1f},{y(v.score):.1f}" for i, (_, v) in enumerate(points))
    grid = "".join(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:+d}</text>'
                   for v in (-100, -50, 0, 50, 100))
    labels = "".join(f'<text x="{x(i):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">{escape(w)}</text>'
                     for i, (w, _) in enumerate(points))
    dots = "".join(f'<circle cx="{x(i):.1f}" cy="{y(v.score):.1f}" r="3" fill="#1d4ed8"><title>{escape(w)}: '
                   f'NPS {v.score:+.0f}, 95% CI {v.low:+.0f} to {v.high:+.0f}, n={v.responses}</title></circle>'
                   for i, (w, v) in enumerate(points))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="NPS per week with its 95% interval">{grid}'
            f'<polygon points="{" ".join(band)}" fill="#1d4ed8" fill-opacity="0.15"/>'
            f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>{dots}{labels}</svg>')


COLOURS = {"negative": "#c0392b", "neutral": "#95a5a6", "positive": "#27ae60"}


def mentions_chart(daily: list[tuple[str, int, int, int]], width: int = 560, height: int = 200) -> str:
    """Mentions per day, stacked by sentiment."""
    if not daily:
        return "<p>No mentions in this period.</p>"
    left, bottom, top = 40, 30, 10
    plot_h = height - top - bottom
    peak = max(n + u + p for _, n, u, p in daily) or 1
    bar_w = (width - left - 10) / len(daily)
    bars = []
    for i, (day, neg, neu, pos) in enumerate(daily):
        base = height - bottom
        for label, count in (("negative", neg), ("neutral", neu), ("positive", pos)):
            h = count / peak * plot_h
            base -= h
            bars.append(f'<rect x="{left + i * bar_w + 1:.1f}" y="{base:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                        f'height="{h:.1f}" fill="{COLOURS[label]}"><title>{escape(day)}: {count} {label}</title></rect>')
    ticks = "".join(f'<text x="{left + i * bar_w + bar_w / 2:.1f}" y="{height - 8}" font-size="10" '
                    f'text-anchor="middle">{escape(day[5:])}</text>'
                    for i, (day, *_rest) in enumerate(daily) if i % max(len(daily) // 7, 1) == 0)
    axis = f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="Mentions per day by sentiment">{axis}{"".join(bars)}{ticks}</svg>')


def html_report(reports: list[BrandReport], title: str = "Ascolto report") -> str:
    sections = []
    for report in reports:
        text = escape(text_report(report))
        sections.append(
            f"<section><h2>{escape(report.brand)}</h2><pre>{text}</pre>"
            f"<h3>NPS per week</h3>{nps_chart(report.weekly_nps)}"
            f"<h3>Mentions per day by sentiment</h3>{mentions_chart(report.daily_mentions)}"
            f'<p style="font-size:12px">'
            + " ".join(f'<span style="color:{c}">&#9632;</span> {k}' for k, c in COLOURS.items())
            + "</p></section>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'<style>body{{font-family:system-ui,Arial,sans-serif;max-width:44rem;margin:auto;padding:1rem;color:#222}}'
            f'pre{{white-space:pre-wrap;background:#f6f5f2;padding:.75rem;border-radius:6px}}'
            f'svg{{max-width:100%;height:auto}}</style></head>'
            f'<body><h1>{escape(title)}</h1>{"".join(sections)}</body></html>')
