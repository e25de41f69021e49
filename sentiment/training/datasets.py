"""Labelled text files, JSON Lines: ``{"text", "label"}`` (sentiment) and, for the unhappy-customer
detector, ``{"text", "complaint": true|false}`` or a sentiment label read as unhappy = negative."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sentiment.errors import BadDataset, BadLabels
from sentiment.runtime.labels import UNHAPPY_LABELS, normalise_label


@dataclass(frozen=True)
class LabelledTexts:
    name: str
    texts: list[str]
    labels: list[str]

    @property
    def label_set(self) -> set[str]:
        return set(self.labels)


def read_labelled(path: Path) -> LabelledTexts:
    """Sentiment rows: ``{"text", "label"}`` with negative, neutral or positive (or their aliases)."""
    def label_of(row: dict) -> str:
        return normalise_label(str(row["label"]))

    return _read(path, label_of, '{"text", "label"} with a sentiment label')


def read_unhappy(path: Path) -> LabelledTexts:
    """Detector rows, labelled other/unhappy: ``complaint`` (true/false) where a row has it, else its
    sentiment label (negative = unhappy): a negative review sentence is an unhappy customer."""
    def label_of(row: dict) -> str:
        if "complaint" in row:
            if not isinstance(row["complaint"], bool):
                raise TypeError("complaint must be true or false")
            return UNHAPPY_LABELS[row["complaint"]]
        return UNHAPPY_LABELS[normalise_label(str(row["label"])) == "negative"]

    return _read(path, label_of, '{"text", "complaint": true|false} or {"text", "label"}')


def _read(path: Path, label_of, expected: str) -> LabelledTexts:
    rows = read_rows(path, lambda row: (str(row["text"]), label_of(row)), expected)
    return LabelledTexts(Path(path).stem, [text for text, _ in rows], [label for _, label in rows])


def read_rows(path: Path, parse, expected: str) -> list:
    """``parse(row)`` for each JSON object of a JSON Lines file; a row it cannot parse (KeyError,
    ValueError, TypeError, BadLabels) is one BadDataset naming the file, the line and ``expected``."""
    try:
        # split("\n"), not splitlines(): texts may hold U+0085 or U+2028, which are not row breaks here.
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise BadDataset(f"cannot read {path}: {exc.strerror}") from None
    parsed = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append(parse(json.loads(line)))
        except (ValueError, KeyError, TypeError, BadLabels) as exc:
            raise BadDataset(f"{path}:{number}: expected {expected} ({exc})") from None
    if not parsed:
        raise BadDataset(f"{path}: no rows")
    return parsed


def training_set(train: list[LabelledTexts], val: list[LabelledTexts]) -> tuple[list[LabelledTexts], int]:
    """``train`` without the texts that are in ``val`` or seen earlier in ``train``, and how many went.

    Public sets overlap (all of XLM-T's English validation file and most of its training file are
    inside tweeteval's validation file): a validation text trained on would make the choice made on
    validation meaningless, and a duplicate would count twice.
    """
    seen = {text for data in val for text in data.texts}
    kept, dropped = [], 0
    for data in train:
        pairs = []
        for text, label in zip(data.texts, data.labels):
            if text in seen:
                dropped += 1
                continue
            seen.add(text)
            pairs.append((text, label))
        if pairs:
            kept.append(LabelledTexts(data.name, [t for t, _ in pairs], [label for _, label in pairs]))
    if not kept:
        raise BadDataset("no training texts left: every one is also a validation text")
    return kept, dropped
