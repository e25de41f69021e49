"""The unhappy-customer detector: is this author unhappy with the brand, does someone need to answer?

A second linear head on the same embedding as the sentiment head (no second pass of the encoder),
trained on complaints to brands and negative review sentences rather than on generic tweet polarity:
a factual service failure with no sentiment word is a complaint. Its raw probability is calibrated per
language on validation data (Platt scaling), and the alert threshold of each preset is the highest
one that keeps the preset's recall on that language's validation file:

    sensitive  recall 0.95   every unhappy customer, more false alarms
    balanced   recall 0.90   the default
    strict     recall 0.80   fewer, surer alerts

The model card lists the precision and recall each preset measured. Thresholds and calibration are
fitted on validation files only; held-out test files never enter here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelUnavailable
from .head import LinearHead, read_model_file
from .labels import UNHAPPY_LABELS
from .scores import Score

# At the balanced and strict presets, a text the sentiment head reads as pleased (P(positive) at
# least 0.5) does not alert on the detector alone: away from its training domains (complaints to
# brands, reviews) the detector also fires on happy customers who name a problem that was solved
# ("assistenza gentilissima, problema risolto"). On the validation files the veto costs 1.2 points of
# recall in English at balanced (0.904 to 0.892), none at strict and none in Italian; the sensitive
# preset keeps every alert.
POSITIVE_VETO = {"sensitive": None, "balanced": 0.5, "strict": 0.5}
PRESETS = {"sensitive": 0.95, "balanced": 0.90, "strict": 0.80}  # recall kept on validation
DEFAULT_PRESET = "balanced"
_EPS = 1e-7


@dataclass
class Detector:
    head: LinearHead  # classes other, unhappy
    calibration: dict[str, tuple[float, float]]  # language -> (a, b): p = sigmoid(a * logit + b)
    thresholds: dict[str, dict[str, float]]  # preset -> language -> threshold on the calibrated probability
    figures: dict = field(default_factory=dict)  # preset -> language -> validation precision, recall, rows

    @property
    def languages(self) -> list[str]:
        return sorted(self.calibration)

    def probability(self, raw: float, lang: str | None) -> float:
        """The calibrated probability that the author is unhappy, for a text in ``lang``."""
        a, b = self.calibration[self._language(raw, lang)]
        return _sigmoid(a * _logit(raw) + b)

    def threshold(self, preset: str, lang: str | None, raw: float | None = None) -> float:
        """The preset's threshold for ``lang`` (for an unknown language, the one ``is_unhappy`` uses)."""
        return self.thresholds[preset][self._language(raw, lang, preset)]

    def is_unhappy(self, raw: float, lang: str | None, preset: str = DEFAULT_PRESET) -> bool:
        language = self._language(raw, lang, preset)
        return self.probability(raw, language) >= self.thresholds[preset][language]

    def _language(self, raw: float | None, lang: str | None, preset: str = DEFAULT_PRESET) -> str:
        """``lang`` if calibrated for; else (language unknown) the language whose rule is most inclined
        to alert on this text: a missed unhappy customer costs more than a second look."""
        if lang in self.calibration:
            return lang
        if raw is None:
            return min(self.languages, key=lambda l: self.thresholds[preset][l])
        return max(self.languages, key=lambda l: self._margin(raw, l, preset))

    def _margin(self, raw: float, lang: str, preset: str) -> float:
        a, b = self.calibration[lang]
        return _sigmoid(a * _logit(raw) + b) - self.thresholds[preset][lang]

    def to_dict(self) -> dict:
        return {"labels": list(self.head.labels), "info": self.head.info,
                "bias": [float(v) for v in self.head.bias], "weight": [[float(v) for v in row] for row in self.head.weight],
                "calibration": {k: list(v) for k, v in self.calibration.items()},
                "thresholds": self.thresholds, "figures": self.figures}

    @classmethod
    def from_dict(cls, doc: Mapping) -> Detector:
        head = LinearHead.from_dict(doc)
        if head.labels != UNHAPPY_LABELS:
            raise ModelUnavailable(f"detector labels must be {list(UNHAPPY_LABELS)}, got {list(head.labels)}")
        calibration = {lang: (float(a), float(b)) for lang, (a, b) in doc["calibration"].items()}
        thresholds = {preset: {lang: float(t) for lang, t in by_lang.items()} for preset, by_lang in doc["thresholds"].items()}
        if set(thresholds) != set(PRESETS) or any(set(t) != set(calibration) for t in thresholds.values()):
            raise ModelUnavailable(f"detector thresholds must cover presets {sorted(PRESETS)} in every calibrated language")
        return cls(head, calibration, thresholds, dict(doc.get("figures", {})))

    @classmethod
    def load(cls, path) -> Detector | None:
        """The detector stored in a model file, or None for a file without one."""
        doc = read_model_file(path)
        if "detector" not in doc:
            return None
        try:
            return cls.from_dict(doc["detector"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelUnavailable(f"detector in {path} is malformed ({exc})") from None


def raw_probability(head: LinearHead, embeddings: np.ndarray) -> np.ndarray:
    """P(unhappy) from the detector head, before calibration."""
    return head.probabilities(embeddings)[:, UNHAPPY_LABELS.index("unhappy")]


def fit_detector(head: LinearHead, validation: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Detector:
    """Calibrate per language and choose each preset's threshold on that language's validation data:
    ``validation[lang] = (raw probabilities, gold is-unhappy)``."""
    calibration, thresholds, figures = {}, {preset: {} for preset in PRESETS}, {preset: {} for preset in PRESETS}
    for lang, (raw, gold) in validation.items():
        gold = np.asarray(gold, dtype=bool)
        a, b = platt(_logit(np.asarray(raw, dtype=np.float64)), gold)
        calibration[lang] = (round(a, 5), round(b, 5))
        calibrated = _sigmoid(a * _logit(np.asarray(raw, dtype=np.float64)) + b)
        for preset, recall in PRESETS.items():
            threshold = threshold_for_recall(calibrated, gold, recall)
            thresholds[preset][lang] = round(threshold, 5)
            figures[preset][lang] = operating_point(calibrated, gold, threshold)
    return Detector(head, calibration, thresholds, figures)


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
        p = _sigmoid(a * logits + b)
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


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p)) if isinstance(p, np.ndarray) else math.log(p / (1 - p))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x)) if isinstance(x, np.ndarray) else 1 / (1 + math.exp(-x))


@dataclass(frozen=True)
class Verdict:
    """What the alert rule says of one scored text."""

    alert: bool
    p_unhappy: float | None  # calibrated; None without a detector
    rule: str  # "detector", "sentiment" (no detector: a confident negative) or "rating"
    threshold: float | None = None  # what p_unhappy (detector) or the confidence (sentiment) had to reach


def judge(score: Score, lang: str | None, detector: Detector | None, preset: str, min_confidence: float,
          rating: int | None = None, low_rating_alerts: bool = True) -> Verdict:
    """Should this text raise an alert? A 1-2 star rating always does (unless the brand turns that
    off); else the detector at the brand's preset; a model without a detector falls back to a
    confident negative sentiment."""
    p_unhappy = detector.probability(score.unhappy, lang) if detector and score.unhappy is not None else None
    if low_rating_alerts and rating is not None and rating <= 2:
        return Verdict(True, p_unhappy, "rating")
    if p_unhappy is not None:
        veto = POSITIVE_VETO.get(preset)
        pleased = veto is not None and score.positive >= veto
        return Verdict(detector.is_unhappy(score.unhappy, lang, preset) and not pleased, p_unhappy, "detector",
                       detector.threshold(preset, lang, score.unhappy))
    return Verdict(score.label == "negative" and score.confidence >= min_confidence, None, "sentiment", min_confidence)
