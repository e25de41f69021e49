"""Accuracy and macro-F1, per file and per class; average precision of a score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sentiment.runtime.labels import LABELS


@dataclass(frozen=True)
class ClassReport:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    name: str
    rows: int
    accuracy: float
    macro_f1: float
    classes: list[ClassReport]
    binary: bool  # a file without neutral rows is scored as negative-vs-positive


def evaluate(name: str, gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = LABELS) -> Report:
    """Per-class and macro figures over ``labels``; a file without neutral rows is scored on the
    labels it has (sentiment: negative vs positive)."""
    present = [label for label in labels if label in set(gold)] if "neutral" not in gold else list(labels)
    classes = [_class_report(label, gold, predicted) for label in present]
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    macro = sum(c.f1 for c in classes) / len(classes)
    return Report(name, len(gold), accuracy, macro, classes, binary="neutral" not in gold)


def _class_report(label: str, gold: Sequence[str], predicted: Sequence[str]) -> ClassReport:
    tp = sum(g == label and p == label for g, p in zip(gold, predicted))
    fp = sum(g != label and p == label for g, p in zip(gold, predicted))
    fn = sum(g == label and p != label for g, p in zip(gold, predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassReport(label, precision, recall, f1, tp + fn)


def binary_predictions(scores) -> list[str]:
    """For files with no neutral class (review sentences): the likelier of negative and positive."""
    return ["positive" if s.positive >= s.negative else "negative" for s in scores]


def average_precision(scores, gold) -> float:
    """The mean precision over the recall steps of every threshold on ``scores`` (higher: more likely
    ``gold``); tied scores step together, so a model that scores everything alike gets the base rate,
    not the luck of the file's order."""
    import numpy as np

    scores, gold = np.asarray(scores), np.asarray(gold, dtype=bool)
    if not gold.any():
        return 0.0
    ap, previous_recall = 0.0, 0.0
    for threshold in np.unique(scores)[::-1]:
        flagged = scores >= threshold
        recall = (flagged & gold).sum() / gold.sum()
        ap += (recall - previous_recall) * (flagged & gold).sum() / flagged.sum()
        previous_recall = recall
    return float(ap)
