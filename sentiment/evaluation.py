"""Evaluating a scorer on labelled files, in the product's terms as well as the model's.

A file's rows are ``{"text", "label"}`` (sentiment) and/or ``{"text", "complaint": true|false}``;
an optional ``lang`` field names the language. Sentiment is reported as accuracy and macro-F1 (a
file without neutral rows is judged on negative vs positive). Alerts are reported as precision and
recall of "should alert": a complaint where rows say, else a negative label; for a model with the
unhappy-customer detector, at each preset, otherwise by the confident-negative rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .datasets import LabelledTexts, read_rows
from .detector import PRESETS, judge
from .labels import normalise_label
from .metrics import Report, binary_predictions, evaluate
from .nps import DEFAULT_CONFIDENCE


@dataclass(frozen=True)
class AlertReport:
    rule: str  # a preset of the detector, or "confident negative" without one
    rows: int
    unhappy: int  # rows that should alert
    precision: float
    recall: float
    f1: float


@dataclass
class FileReport:
    name: str
    rows: int
    sentiment: Report | None  # where the rows have sentiment labels
    alerts: list[AlertReport] = field(default_factory=list)


@dataclass(frozen=True)
class EvaluationRows:
    name: str
    texts: list[str]
    labels: list[str] | None  # sentiment, where every row has one
    unhappy: list[bool]
    langs: list[str | None]


def read_evaluation(path: Path) -> EvaluationRows:
    def parse(row: dict) -> tuple[str, str | None, bool, str | None]:
        label = normalise_label(str(row["label"])) if "label" in row else None
        complaint = row.get("complaint")
        if label is None and not isinstance(complaint, bool):
            raise KeyError("label or complaint")
        return (str(row["text"]), label, complaint if isinstance(complaint, bool) else label == "negative",
                row.get("lang") if isinstance(row.get("lang"), str) else None)

    rows = read_rows(path, parse, '{"text", "label"} or {"text", "complaint": true|false}')
    texts, labels, unhappy, langs = (list(column) for column in zip(*rows))
    return EvaluationRows(Path(path).stem, texts, None if None in labels else labels, unhappy, langs)


def evaluate_files(scorer, files: Sequence[Path],
                   language: Callable[[str, str | None], str | None] = lambda text, lang: lang,
                   min_confidence: float = DEFAULT_CONFIDENCE) -> list[FileReport]:
    """``language(text, row's lang)`` decides the language the detector's thresholds are taken for."""
    reports = []
    for path in files:
        data = read_evaluation(path)
        scores = scorer.score(data.texts)
        report = FileReport(data.name, len(data.texts), _sentiment(data, scores))
        langs = [language(t, l) for t, l in zip(data.texts, data.langs)]
        detector = getattr(scorer, "detector", None)
        for preset in (PRESETS if detector is not None else ("confident negative",)):
            flagged = [judge(s, lang, detector, preset if detector else "balanced", min_confidence).alert
                       for s, lang in zip(scores, langs)]
            report.alerts.append(_alert_report(preset, data.unhappy, flagged))
        reports.append(report)
    return reports


def _sentiment(data: EvaluationRows, scores) -> Report | None:
    if data.labels is None:
        return None
    labelled = LabelledTexts(data.name, data.texts, data.labels)
    # Files without a neutral class (review sentences) are judged on negative vs positive only.
    predicted = binary_predictions(scores) if "neutral" not in labelled.label_set else [s.label for s in scores]
    return evaluate(data.name, data.labels, predicted)


def _alert_report(rule: str, gold: Sequence[bool], flagged: Sequence[bool]) -> AlertReport:
    tp = sum(g and f for g, f in zip(gold, flagged))
    fp = sum(f and not g for g, f in zip(gold, flagged))
    fn = sum(g and not f for g, f in zip(gold, flagged))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return AlertReport(rule, len(gold), sum(gold), precision, recall, f1)


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
        lines.append(f"  alerts ({a.rule:<18})  precision {a.precision:.3f}  recall {a.recall:.3f}  F1 {a.f1:.3f}  "
                     f"should alert {a.unhappy} of {a.rows}")
    return "\n".join(lines)


def report_dict(report: FileReport) -> dict:
    return asdict(report)
