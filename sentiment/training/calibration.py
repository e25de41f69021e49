"""Calibrating the unhappy-customer detector: Platt scaling per language, and each preset's threshold
chosen on that language's validation file (the highest that keeps the preset's recall); and, for a
kind of text other than posts (reviews), its own thresholds chosen the same way on that kind's
validation files. Validation files only: held-out test files never enter here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentiment.runtime.detector import MIN_KIND_UNHAPPY, PRESETS, Detector, logit, raw_probability, sigmoid
from sentiment.runtime.heads import LinearHead
from sentiment.training.datasets import read_unhappy


def calibrate(head: LinearHead, embed: Callable, files: Mapping[str, Path]) -> Detector:
    """The detector ``head`` calibrated on each language's validation file (``files[lang]``), with
    its presets' thresholds; ``embed`` turns texts into the head's embeddings."""
    data = {}
    for lang, path in files.items():
        rows = read_unhappy(Path(path))
        data[lang] = (raw_probability(head, embed(rows.texts)), np.asarray([label == "unhappy" for label in rows.labels]))
    return fit_detector(head, data)


def calibrate_kinds(detector: Detector, embed: Callable, files: Mapping[str, Mapping[str, Sequence[Path]]]) -> Detector:
    """``detector`` with its own thresholds for each kind of ``files`` (kind -> language -> validation
    files), where a language's files hold ``MIN_KIND_UNHAPPY`` unhappy texts; its calibration and the
    posts' thresholds are kept."""
    for kind, by_lang in files.items():
        data = {}
        for lang, paths in by_lang.items():
            rows = [read_unhappy(Path(path)) for path in paths]
            texts = [text for data_file in rows for text in data_file.texts]
            gold = np.asarray([label == "unhappy" for data_file in rows for label in data_file.labels])
            data[lang] = (raw_probability(detector.head, embed(texts)), gold)
        detector = fit_kind(detector, kind, data)
    return detector


def fit_kind(detector: Detector, kind: str, validation: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Detector:
    """Each preset's threshold for ``kind`` in each language of ``validation`` (raw probabilities, gold
    is-unhappy) with enough unhappy texts, on the detector's own calibration of that language."""
    thresholds, figures = {preset: {} for preset in PRESETS}, {preset: {} for preset in PRESETS}
    for lang, (raw, gold) in validation.items():
        gold = np.asarray(gold, dtype=bool)
        if lang not in detector.calibration or gold.sum() < MIN_KIND_UNHAPPY:
            continue  # too few to choose on: the kind takes the posts' thresholds in this language
        calibrated = detector.probability(np.asarray(raw, dtype=np.float64), lang)  # a calibrated language: vectorised
        _choose_presets(calibrated, gold, lang, thresholds, figures)
    kinds, kind_figures = dict(detector.kind_thresholds), dict(detector.kind_figures)
    kinds.pop(kind, None)
    kind_figures.pop(kind, None)
    if thresholds[next(iter(PRESETS))]:
        kinds[kind], kind_figures[kind] = thresholds, figures
    return replace(detector, kind_thresholds=kinds, kind_figures=kind_figures)


def fit_detector(head: LinearHead, validation: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Detector:
    """Calibrate per language and choose each preset's threshold on that language's validation data:
    ``validation[lang] = (raw probabilities, gold is-unhappy)``."""
    calibration, thresholds, figures = {}, {preset: {} for preset in PRESETS}, {preset: {} for preset in PRESETS}
    for lang, (raw, gold) in validation.items():
        gold = np.asarray(gold, dtype=bool)
        a, b = platt(logit(np.asarray(raw, dtype=np.float64)), gold)
        calibration[lang] = (round(a, 5), round(b, 5))
        calibrated = sigmoid(a * logit(np.asarray(raw, dtype=np.float64)) + b)
        _choose_presets(calibrated, gold, lang, thresholds, figures)
    return Detector(head, calibration, thresholds, figures)


def _choose_presets(calibrated: np.ndarray, gold: np.ndarray, lang: str, thresholds: dict, figures: dict) -> None:
    """Each preset's threshold in ``lang`` (the highest that keeps its recall) and its figures there."""
    for preset, recall in PRESETS.items():
        threshold = threshold_for_recall(calibrated, gold, recall)
        thresholds[preset][lang] = round(threshold, 5)
        figures[preset][lang] = operating_point(calibrated, gold, threshold)


def threshold_for_recall(probabilities: np.ndarray, gold: np.ndarray, recall: float) -> float:
    """The highest threshold that still flags at least ``recall`` of the unhappy texts."""
    positives = np.sort(np.asarray(probabilities)[np.asarray(gold, dtype=bool)])[::-1]
    if not len(positives):
        raise ValueError("no unhappy texts to choose a threshold on")
    return float(positives[max(math.ceil(recall * len(positives)) - 1, 0)])


def operating_point(probabilities: np.ndarray, gold: np.ndarray, threshold: float) -> dict:
    flagged, gold = np.asarray(probabilities) >= threshold, np.asarray(gold, dtype=bool)
    tp, fp, fn = int((flagged & gold).sum()), int((flagged & ~gold).sum()), int((~flagged & gold).sum())
    return {"precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0, "rows": int(len(gold))}


def platt(logits: np.ndarray, gold: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Platt scaling: a, b minimising the log loss of sigmoid(a * logit + b), with Platt's smoothed
    targets so that a separable validation set does not push the probabilities to 0 and 1. Newton
    steps are halved until the loss goes down (a full step from a = 1 can overshoot when the raw
    probabilities are near 0 and 1, and then diverges)."""
    positives, negatives = int(gold.sum()), int((~gold).sum())
    target = np.where(gold, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        z = a * logits + b  # log(1 + e^z) - target * z, computed stably
        return float((np.logaddexp(0, z) - target * z).sum())

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = sigmoid(a * logits + b)
        gradient = np.array([((p - target) * logits).sum(), (p - target).sum()])
        w = p * (1 - p) + 1e-12
        hessian = np.array([[(w * logits * logits).sum(), (w * logits).sum()], [(w * logits).sum(), w.sum()]])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        scale = 1.0
        while scale > 1e-6 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        if scale <= 1e-6:
            break
        a, b = a - scale * step[0], b - scale * step[1]
        current = loss(a, b)
        if np.abs(scale * step).max() < 1e-9:
            break
    return float(a), float(b)
