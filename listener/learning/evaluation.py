"""How well the product's alert rule does on labelled files: alert precision and recall per preset
(and per language), with the model's own sentiment figures beside them (``ascolto eval``). Each row is
judged as the kind of text it is (a row's ``kind``, or a review where it has a rating) unless the
caller names one kind for all; the rating itself does not alert here: the figures are the text's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sentiment.evaluation.files import read_evaluation, sentiment_report
from sentiment.evaluation.metrics import Report
from sentiment.runtime.detector import PRESETS
from sentiment.scoring import Scorer

from ..rules import DEFAULT_CONFIDENCE, judge

NO_DETECTOR = "confident negative"


@dataclass(frozen=True)
class AlertReport:
    rule: str  # a preset of the detector, or "confident negative" without one
    rows: int
    unhappy: int  # rows that should alert
    precision: float
    recall: float
    f1: float
    language: str | None = None  # None: every row of the file


@dataclass
class FileReport:
    name: str
    rows: int
    sentiment: Report | None  # where the rows have sentiment labels
    alerts: list[AlertReport] = field(default_factory=list)


def evaluate_files(scorer: Scorer, files: Sequence[Path],
                   language: Callable[[str, str | None], str | None] = lambda text, lang: lang,
                   min_confidence: float = DEFAULT_CONFIDENCE, kind: str | None = None) -> list[FileReport]:
    """``language(text, row's lang)`` decides the language the detector's thresholds are taken for;
    ``kind`` (post or review), where given, the kind every row is judged as."""
    reports = []
    for path in files:
        data = read_evaluation(path)
        scores = scorer.score(data.texts)
        report = FileReport(data.name, len(data.texts), sentiment_report(data, scores))
        langs = [language(t, code) for t, code in zip(data.texts, data.langs)]
        detector = scorer.detector
        for preset in (PRESETS if detector is not None else (NO_DETECTOR,)):
            flagged = [judge(s, lang, detector, preset if detector else "balanced", min_confidence,
                             kind=kind or row_kind).alert for s, lang, row_kind in zip(scores, langs, data.kinds)]
            report.alerts.append(alert_report(preset, data.unhappy, flagged))
            if len({lang for lang in langs}) > 1:
                for lang in sorted({lang for lang in langs if lang}):
                    keep = [i for i, row_lang in enumerate(langs) if row_lang == lang]
                    report.alerts.append(alert_report(preset, [data.unhappy[i] for i in keep],
                                                      [flagged[i] for i in keep], lang))
        reports.append(report)
    return reports


def alert_report(rule: str, gold: Sequence[bool], flagged: Sequence[bool], language: str | None = None) -> AlertReport:
    tp = sum(g and f for g, f in zip(gold, flagged))
    fp = sum(f and not g for g, f in zip(gold, flagged))
    fn = sum(g and not f for g, f in zip(gold, flagged))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return AlertReport(rule, len(gold), sum(gold), precision, recall, f1, language)


def format_report(report: FileReport) -> str:
    lines = [f"{report.name}: {report.rows} rows"]
    s = report.sentiment
    if s is not None:
        kind = "binary negative/positive" if s.binary else "3 classes"
        lines.append(f"  sentiment ({kind})  accuracy {s.accuracy:.3f}  macro-F1 {s.macro_f1:.3f}")
        for c in s.classes:
            lines.append(f"    {c.label:<8}  precision {c.precision:.3f}  recall {c.recall:.3f}  F1 {c.f1:.3f}  "
                         f"n={c.support}")
    for a in report.alerts:
        rule = a.rule + (f", {a.language}" if a.language else "")
        lines.append(f"  alerts ({rule:<18})  precision {a.precision:.3f}  recall {a.recall:.3f}  F1 {a.f1:.3f}  "
                     f"should alert {a.unhappy} of {a.rows}")
    return "\n".join(lines)


def report_dict(report: FileReport) -> dict:
    return asdict(report)
