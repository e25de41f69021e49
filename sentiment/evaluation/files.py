"""Labelled evaluation files and the model's own figures on them.

A file's rows are ``{"text", "label"}`` (sentiment) and/or ``{"text", "complaint": true|false}``
or ``{"text", "unhappy": true|false}`` (the product's question: is this a customer unhappy with
the brand, should someone answer?); an optional ``lang`` field names the language, and an optional
``kind`` (post or review) the kind of text, which a ``rating`` (stars) also makes a review. Sentiment is
reported as accuracy and macro-F1 (a file without neutral rows is judged on negative vs positive).
What a file says "should alert" is its complaint or unhappy flag, else a negative label; how well
the product's alert rule does on it is the listener's to measure (``listener.learning.evaluation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentiment.evaluation.metrics import Report, binary_predictions, evaluate
from sentiment.runtime.detector import KINDS, text_kind
from sentiment.runtime.labels import normalise_label
from sentiment.training.datasets import read_rows

SHOULD_ALERT_KEYS = ("unhappy", "complaint")


@dataclass(frozen=True)
class EvaluationRows:
    name: str
    texts: list[str]
    labels: list[str] | None  # sentiment, where every row has one
    unhappy: list[bool]  # should alert
    langs: list[str | None]
    kinds: list[str]  # post or review
    ratings: list[int | None]  # stars, where a row has them


def read_evaluation(path: Path) -> EvaluationRows:
    def parse(row: dict) -> tuple[str, str | None, bool, str | None, str, int | None]:
        label = normalise_label(str(row["label"])) if "label" in row else None
        flag = next((row[k] for k in SHOULD_ALERT_KEYS if isinstance(row.get(k), bool)), None)
        if label is None and flag is None:
            raise KeyError("label, unhappy or complaint")
        rating = row.get("rating")
        if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool)):
            raise TypeError("rating must be a whole number of stars")
        kind = row.get("kind") or text_kind(rating)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return (str(row["text"]), label, flag if flag is not None else label == "negative",
                row.get("lang") if isinstance(row.get("lang"), str) else None, kind, rating)

    rows = read_rows(path, parse, '{"text", "label"}, {"text", "unhappy": true|false} or {"text", "complaint": ...}')
    texts, labels, unhappy, langs, kinds, ratings = (list(column) for column in zip(*rows))
    return EvaluationRows(Path(path).stem, texts, None if None in labels else labels, unhappy, langs, kinds, ratings)


def sentiment_report(data: EvaluationRows, scores) -> Report | None:
    """Accuracy and macro-F1 of the scores' labels, where the file has sentiment labels."""
    if data.labels is None:
        return None
    # Files without a neutral class (review sentences) are judged on negative vs positive only.
    predicted = binary_predictions(scores) if "neutral" not in set(data.labels) else [s.label for s in scores]
    return evaluate(data.name, data.labels, predicted)
