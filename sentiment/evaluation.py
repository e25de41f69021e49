"""Evaluating a scorer on labelled files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .datasets import read_labelled
from .metrics import Report, binary_predictions, evaluate


def evaluate_files(scorer, files: Sequence[Path]) -> list[Report]:
    reports = []
    for path in files:
        data = read_labelled(path)
        scores = scorer.score(data.texts)
        # Files without a neutral class (review sentences) are judged on negative vs positive only.
        predicted = binary_predictions(scores) if "neutral" not in data.label_set else [s.label for s in scores]
        reports.append(evaluate(data.name, data.labels, predicted))
    return reports


def format_report(report: Report) -> str:
    kind = "binary negative/positive" if report.binary else "3 classes"
    lines = [f"{report.name}: {report.rows} rows ({kind})  accuracy {report.accuracy:.3f}  macro-F1 {report.macro_f1:.3f}"]
    for c in report.classes:
        lines.append(f"  {c.label:<8}  precision {c.precision:.3f}  recall {c.recall:.3f}  F1 {c.f1:.3f}  n={c.support}")
    return "\n".join(lines)


def report_dict(report: Report) -> dict:
    return asdict(report)
