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

from sentiment.errors import ModelUnavailable
from sentiment.runtime.heads import LinearHead, read_model_file
from sentiment.runtime.labels import UNHAPPY_LABELS

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
        return sigmoid(a * logit(raw) + b)

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
            return min(self.languages, key=lambda lang: self.thresholds[preset][lang])
        return max(self.languages, key=lambda lang: self._margin(raw, lang, preset))

    def _margin(self, raw: float, lang: str, preset: str) -> float:
        a, b = self.calibration[lang]
        return sigmoid(a * logit(raw) + b) - self.thresholds[preset][lang]

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


def logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p)) if isinstance(p, np.ndarray) else math.log(p / (1 - p))


def sigmoid(x):
    return 1 / (1 + np.exp(-x)) if isinstance(x, np.ndarray) else 1 / (1 + math.exp(-x))
