"""Labelled text files: JSON Lines rows of ``{"text": ..., "label": ...}``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import BadDataset, BadLabels
from .labels import normalise_label


@dataclass(frozen=True)
class LabelledTexts:
    name: str
    texts: list[str]
    labels: list[str]

    @property
    def label_set(self) -> set[str]:
        return set(self.labels)


def read_labelled(path: Path) -> LabelledTexts:
    texts, labels = [], []
    try:
        # split("\n"), not splitlines(): texts may hold U+0085 or U+2028, which are not row breaks here.
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise BadDataset(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], normalise_label(str(row["label"]))
        except (ValueError, KeyError, TypeError, BadLabels) as exc:
            raise BadDataset(f"{path}:{number}: expected {{\"text\", \"label\"}} with a sentiment label ({exc})") from None
        texts.append(str(text))
        labels.append(label)
    if not texts:
        raise BadDataset(f"{path}: no rows")
    return LabelledTexts(Path(path).stem, texts, labels)
