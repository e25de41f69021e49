"""How well themes are assigned, on a labelled JSONL file (text, lang, themes[, split]): F1 per
theme, macro-F1 overall and per language, and the threshold that maximises macro-F1 on one split
(the development half) to be checked on the other (the test half)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sentiment.training.datasets import read_rows

from .matching import ThemeMatcher


@dataclass(frozen=True)
class Labelled:
    text: str
    lang: str
    themes: frozenset
    split: str


@dataclass(frozen=True)
class ThemeScores:
    macro_f1: float
    per_theme: dict  # theme -> (f1, precision, recall, support)
    per_language: dict  # language -> macro-F1
    texts: int


def read_labelled(path: Path) -> list[Labelled]:
    return read_rows(path, lambda row: Labelled(row["text"], row.get("lang", ""), frozenset(row["themes"]),
                                                row.get("split", "")), '{"text", "lang", "themes": [...]}')


def score(rows: Sequence[Labelled], predicted: Sequence[set], themes: Sequence[str]) -> ThemeScores:
    per_theme = {theme: _f1([theme in r.themes for r in rows], [theme in p for p in predicted]) for theme in themes}
    per_language = {}
    for lang in sorted({r.lang for r in rows}):
        keep = [i for i, r in enumerate(rows) if r.lang == lang]
        per_language[lang] = float(np.mean([_f1([t in rows[i].themes for i in keep], [t in predicted[i] for i in keep])[0]
                                            for t in themes]))
    return ThemeScores(float(np.mean([v[0] for v in per_theme.values()])), per_theme, per_language, len(rows))


def _f1(gold: Sequence[bool], guess: Sequence[bool]) -> tuple[float, float, float, int]:
    tp = sum(g and p for g, p in zip(gold, guess))
    fp = sum(p and not g for g, p in zip(gold, guess))
    fn = sum(g and not p for g, p in zip(gold, guess))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0), precision, recall, tp + fn


def evaluate(matcher: ThemeMatcher, rows: Sequence[Labelled], embeddings: Sequence) -> ThemeScores:
    found = matcher.assign([r.text for r in rows], embeddings, [None] * len(rows))
    return score(rows, [{m.theme for m in ms} for ms in found], [t.id for t in matcher.taxonomy])


def choose_threshold(matcher: ThemeMatcher, rows: Sequence[Labelled], embeddings: Sequence,
                     grid: Sequence[float] = tuple(np.round(np.arange(0.50, 1.31, 0.01), 2))) -> tuple[float, float]:
    """(threshold, macro-F1) best on ``rows``: choose on the development split only."""
    best = (matcher.settings.threshold, -1.0)
    for threshold in grid:
        trial = ThemeMatcher(matcher.taxonomy, replace(matcher.settings, threshold=float(threshold)), matcher.prototypes)
        f1 = evaluate(trial, rows, embeddings).macro_f1
        if f1 > best[1] + 1e-9:
            best = (float(threshold), f1)
    return best
