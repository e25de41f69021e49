"""Calibrating the unhappy-customer detector: Platt scaling per language, and each preset's threshold
chosen on that language's validation file (the highest that keeps the preset's recall); and, for a
kind of text other than posts (reviews), its own rule: thresholds chosen the same way on that kind's
validation files, on the posts' head or on the kind's own head trained on its training files.
Validation files only choose: held-out test files never enter here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentiment.evaluation.metrics import average_precision
from sentiment.runtime.detector import MIN_KIND_UNHAPPY, PRESETS, Detector, KindRule, logit, raw_probability, sigmoid
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import UNHAPPY_LABELS
from sentiment.training.datasets import LabelledTexts, read_unhappy, training_set
from sentiment.training.heads import class_weights, fit_head

# The penalties a kind head may take, chosen by validation average precision (a few thousand
# reviews: the stronger ones keep a head from learning one domain's words).
KIND_L2_GRID = (1e-4, 1e-3, 1e-2)


def calibrate(head: LinearHead, embed: Callable, files: Mapping[str, Path]) -> Detector:
    """The detector ``head`` calibrated on each language's validation file (``files[lang]``), with
    its presets' thresholds; ``embed`` turns texts into the head's embeddings."""
    data = {}
    for lang, path in files.items():
        texts, gold = _texts_and_gold([read_unhappy(Path(path))])
        data[lang] = (raw_probability(head, embed(texts)), gold)
    return fit_detector(head, data)


def calibrate_kinds(detector: Detector, embed: Callable, files: Mapping[str, Mapping[str, Sequence[Path]]],
                    train: Mapping[str, Sequence[Path]] | None = None) -> Detector:
    """``detector`` with its own rule for each kind of ``files`` (kind -> language -> validation files),
    where a language's files hold ``MIN_KIND_UNHAPPY`` unhappy texts: thresholds on the posts' head, or,
    for a kind ``train`` names training files for, its own head (``fit_kind_head``). The posts' head,
    calibration and thresholds are kept."""
    for kind, by_lang in files.items():
        validation = {lang: [read_unhappy(Path(path)) for path in paths] for lang, paths in by_lang.items()}
        if train and train.get(kind):
            held = [data for files_of_lang in validation.values() for data in files_of_lang]
            detector = fit_kind_head(detector, kind, _training_rows(train[kind], held), validation, embed)
        else:
            raw = {}
            for lang, files_of_lang in validation.items():
                texts, gold = _texts_and_gold(files_of_lang)
                raw[lang] = (raw_probability(detector.head, embed(texts)), gold)
            detector = fit_kind(detector, kind, raw)
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
    return _with_rule(detector, kind, KindRule(thresholds, figures))


def fit_kind_head(detector: Detector, kind: str, train: tuple[list[str], np.ndarray, np.ndarray, list[str]],
                  validation: Mapping[str, Sequence[LabelledTexts]], embed: Callable,
                  l2_grid: Sequence[float] = KIND_L2_GRID) -> Detector:
    """``kind``'s own detector head: a linear layer on the same embedding, trained on ``train`` (texts,
    is-unhappy, weights, file names: each file weighs the same in all, so no one domain teaches the
    head its own words), its penalty chosen by the mean average precision over the languages of
    ``validation`` (language -> its files, labelled other/unhappy), then calibrated and thresholded per
    language there exactly as the posts' head is. Validation files only choose; they never train."""
    texts, gold, weights, names = train
    x = embed(texts)
    x_val = {}
    for lang, files_of_lang in validation.items():
        rows, is_unhappy = _texts_and_gold(files_of_lang)
        if lang in detector.calibration and is_unhappy.sum() >= MIN_KIND_UNHAPPY:
            x_val[lang] = (embed(rows), is_unhappy)
    if not x_val:
        return _with_rule(detector, kind, KindRule({preset: {} for preset in PRESETS}))
    y = np.asarray(gold, dtype=int)
    heads = {l2: fit_head(x, y, l2, class_weights(y, 2), UNHAPPY_LABELS, sample_weight=weights) for l2 in l2_grid}
    scores = {l2: {lang: average_precision(raw_probability(head, xv), g) for lang, (xv, g) in x_val.items()}
              for l2, head in heads.items()}
    best = max(l2_grid, key=lambda l2: np.mean(list(scores[l2].values())))
    head = heads[best]
    head.info = {"kind": kind, "train": names, "l2": best,
                 "validation": [data.name for files_of_lang in validation.values() for data in files_of_lang],
                 "average_precision": {lang: round(ap, 4) for lang, ap in scores[best].items()},
                 "posts_head_average_precision": {lang: round(average_precision(raw_probability(detector.head, xv), g), 4)
                                                  for lang, (xv, g) in x_val.items()}}
    raw = {lang: (raw_probability(head, xv), g) for lang, (xv, g) in x_val.items()}
    own = fit_detector(head, raw)
    return _with_rule(detector, kind, KindRule(own.thresholds, own.figures, head, own.calibration))


def _with_rule(detector: Detector, kind: str, rule: KindRule) -> Detector:
    """``detector`` with ``rule`` for ``kind``; a rule that covers no language is no rule."""
    kinds = {k: r for k, r in detector.kinds.items() if k != kind}
    if rule.languages:
        kinds[kind] = rule
    return replace(detector, kinds=kinds)


def _texts_and_gold(files: Sequence[LabelledTexts]) -> tuple[list[str], np.ndarray]:
    """The texts of detector files (labelled other/unhappy), and whether each is unhappy."""
    return ([text for data in files for text in data.texts],
            np.asarray([label == "unhappy" for data in files for label in data.labels], dtype=bool))


def _training_rows(paths: Sequence[Path], validation: Sequence[LabelledTexts]
                   ) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """A kind head's training texts, without those in its validation files or repeated, each file
    weighing the same in all (weights averaging 1)."""
    kept, _ = training_set([read_unhappy(Path(path)) for path in paths], list(validation))
    texts, gold = _texts_and_gold(kept)
    weights = np.concatenate([np.full(len(data.texts), len(texts) / (len(kept) * len(data.texts))) for data in kept])
    return texts, gold, weights, [data.name for data in kept]


def fit_detector(head: LinearHead, validation: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Detector:
    """Calibrate per language and choose each preset's threshold on that language's validation data:
    ``validation[lang] = (raw probabilities, gold is-unhappy)``."""
    calibration, thresholds, figures = {}, {preset: {} for preset in PRESETS}, {preset: {} for preset in PRESETS}
    for lang, (raw, gold) in validation.items():
        gold = np.asarray(gold, dtype=bool)
        a, b = platt(logit(np.asarray(raw, dtype=np.float64)), gold)
        calibration[lang] = a, b = (round(a, 5), round(b, 5))  # thresholds are chosen as the file will apply them
        calibrated = sigmoid(a * logit(np.asarray(raw, dtype=np.float64)) + b)
        _choose_presets(calibrated, gold, lang, thresholds, figures)
    return Detector(head, calibration, thresholds, figures)


def _choose_presets(calibrated: np.ndarray, gold: np.ndarray, lang: str, thresholds: dict, figures: dict) -> None:
    """Each preset's threshold in ``lang`` (the highest that keeps its recall) and its figures there."""
    for preset, recall in PRESETS.items():
        threshold = threshold_for_recall(calibrated, gold, recall)
        thresholds[preset][lang] = stored(threshold)
        figures[preset][lang] = operating_point(calibrated, gold, threshold)


def stored(threshold: float) -> float:
    """A threshold as a model file holds it: five decimals, rounded down, so that the text it was chosen
    on (the last one that keeps the preset's recall) is still flagged; rounded up, it was not."""
    return math.floor(threshold * 1e5) / 1e5


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
