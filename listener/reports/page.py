"""The report as text (a terminal, in English) and as one self-contained HTML page in the brands'
language with inline SVG charts (``charts``), rendered by ``templates/report.html``."""

from __future__ import annotations

import json
from types import SimpleNamespace

from listener.kernel.i18n import N_, translations
from listener.kernel.times import parse_timestamp
from surveys.nps import MIN_VERDICT, Nps

from .charts import mentions_chart, nps_chart, score_chart, signed
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
    for channel, (median, count) in report.first_reply.items():
        lines.append(f"  time to first reply ({channel}): median {median:.1f} h over {count} alerts answered")
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


TITLE = N_("Ascolto report")
COLUMNS = (N_("Theme"), N_("NPS with it"), N_("NPS without"), N_("Gap"), N_("NPS points it costs"),
           N_("Of detractors"), N_("Change vs previous"), N_("Negative mentions"), N_("Detractors say"))


def html_report(reports: list[BrandReport], title: str | None = None, overdue: list[str] | None = None,
                lang: str | None = None) -> str:
    """One page, no scripts, no external assets: it opens offline, prints, and goes into an email;
    in ``lang`` (default: the brands' language, English when they differ); with ``overdue``, the
    overdue cases after the brands (the weekly digest)."""
    from listener.kernel.templating import environment

    languages = {r.language for r in reports}
    lang = lang or (languages.pop() if len(languages) == 1 else "en")
    translate = translations(lang).gettext
    charts = [SimpleNamespace(nps=nps_chart(r.weekly_nps, lang), scores=score_chart(r.score_counts, lang),
                              mentions=mentions_chart(r.daily_mentions, lang)) for r in reports]
    candidates = [[{"words": json.loads(c["words"]), "size": c["size"],
                    "example": next(iter(json.loads(c["examples"])), "")} for c in r.candidates] for r in reports]
    return environment(lang, "listener.reports").get_template("report.html").render(
        lang=lang, title=title or translate(TITLE), reports=reports, charts=charts, candidates=candidates,
        columns=[translate(c) for c in COLUMNS], overdue=overdue, min_sample=MIN_SAMPLE, min_verdict=MIN_VERDICT,
        day=lambda when: _day(when, lang), signed=signed, hours=lambda value: _hours(value, lang))


def _hours(value: float, lang: str) -> str:
    """Hours with one decimal, in the page's way of writing decimals (3,5 in Italian)."""
    from babel.numbers import format_decimal

    return format_decimal(round(value, 1), format="#,##0.0", locale=lang)



def _day(when, lang: str) -> str:
    """A date as people of ``lang`` write it: 3 Dec 2026, 3 dic 2026."""
    from babel.dates import format_date

    moment = parse_timestamp(when) if isinstance(when, str) else when
    return format_date(moment, "d MMM y", locale=lang)
