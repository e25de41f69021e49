"""The unhappy-customer detector: is this author unhappy with the brand, does someone need to answer?

A second linear head on the same embedding as the sentiment head (no second pass of the encoder),
trained on complaints to brands and negative review sentences rather than on generic tweet polarity:
a factual service failure with no sentiment word is a complaint. Its raw probability is calibrated per
language on validation data (Platt scaling), and the alert threshold of each preset is the highest
one that keeps the preset's recall on that language's validation file:

    sensitive  recall 0.95   every unhappy customer, more false alarms
    balanced   recall 0.90   the default
    strict     recall 0.80   fewer, surer alerts

The same probability means a different thing in a different kind of text: a whole review names a flaw
in passing, and the posts' thresholds heard 0.94 of unhappy English reviewers at ``balanced`` (with
many pleased ones among the alerts) but 0.63 of Italian ones. Where validation data of a kind supports
it (``MIN_KIND_UNHAPPY`` unhappy texts in a language), the kind has its own thresholds, chosen the same
way on that kind's files, so that a preset keeps its recall in every kind; elsewhere it takes the
posts' (``BASE_KIND``).

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
# Kinds of text: posts and comments (the base, whose thresholds every model has), and reviews (a text
# with a star rating). A survey answer alerts on its 0-10 score, the customer's own word.
BASE_KIND = "post"
REVIEW_KIND = "review"
KINDS = (BASE_KIND, REVIEW_KIND)
# A kind's thresholds in a language rest on at least this many unhappy validation texts: at 30, the
# sensitive preset's threshold is the 29th highest, and one text more or less moves recall by 0.03.
MIN_KIND_UNHAPPY = 30
_EPS = 1e-7


def text_kind(rating: int | None) -> str:
    """A text with a star rating is a review (every review source gives one; so does an imported file's
    rating column); anything else is a post or a comment."""
    return REVIEW_KIND if rating is not None else BASE_KIND


@dataclass
class Detector:
    head: LinearHead  # classes other, unhappy
    calibration: dict[str, tuple[float, float]]  # language -> (a, b): p = sigmoid(a * logit + b)
    thresholds: dict[str, dict[str, float]]  # preset -> language -> threshold on the calibrated probability
    figures: dict = field(default_factory=dict)  # preset -> language -> validation precision, recall, rows
    # kind -> preset -> language -> threshold, for the kinds (other than posts) and languages whose
    # validation data supported their own; any other kind or language takes ``thresholds``
    kind_thresholds: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    kind_figures: dict = field(default_factory=dict)  # kind -> preset -> language -> as ``figures``

    @property
    def languages(self) -> list[str]:
        return sorted(self.calibration)

    def probability(self, raw: float, lang: str | None) -> float:
        """The calibrated probability that the author is unhappy, for a text in ``lang``."""
        a, b = self.calibration[self._language(raw, lang)]
        return sigmoid(a * logit(raw) + b)

    def threshold(self, preset: str, lang: str | None, raw: float | None = None, kind: str = BASE_KIND) -> float:
        """The preset's threshold for ``lang`` and ``kind`` (for an unknown language, the one ``is_unhappy``
        uses)."""
        return self._threshold(preset, self._language(raw, lang, preset, kind), kind)

    def is_unhappy(self, raw: float, lang: str | None, preset: str = DEFAULT_PRESET, kind: str = BASE_KIND) -> bool:
        language = self._language(raw, lang, preset, kind)
        return self.probability(raw, language) >= self._threshold(preset, language, kind)

    def _threshold(self, preset: str, lang: str, kind: str) -> float:
        own = self.kind_thresholds.get(kind, {}).get(preset, {})
        return own[lang] if lang in own else self.thresholds[preset][lang]

    def _language(self, raw: float | None, lang: str | None, preset: str = DEFAULT_PRESET,
                  kind: str = BASE_KIND) -> str:
        """``lang`` if calibrated for; else (language unknown) the language whose rule is most inclined
        to alert on this text: a missed unhappy customer costs more than a second look."""
        if lang in self.calibration:
            return lang
        if raw is None:
            return min(self.languages, key=lambda lang: self._threshold(preset, lang, kind))
        return max(self.languages, key=lambda lang: self._margin(raw, lang, preset, kind))

    def _margin(self, raw: float, lang: str, preset: str, kind: str) -> float:
        a, b = self.calibration[lang]
        return sigmoid(a * logit(raw) + b) - self._threshold(preset, lang, kind)

    def to_dict(self) -> dict:
        return {"labels": list(self.head.labels), "info": self.head.info,
                "bias": [float(v) for v in self.head.bias], "weight": [[float(v) for v in row] for row in self.head.weight],
                "calibration": {k: list(v) for k, v in self.calibration.items()},
                "thresholds": self.thresholds, "figures": self.figures,
                **({"kinds": {kind: {"thresholds": by_preset, "figures": self.kind_figures.get(kind, {})}
                              for kind, by_preset in self.kind_thresholds.items()}} if self.kind_thresholds else {})}

    @classmethod
    def from_dict(cls, doc: Mapping) -> Detector:
        head = LinearHead.from_dict(doc)
        if head.labels != UNHAPPY_LABELS:
            raise ModelUnavailable(f"detector labels must be {list(UNHAPPY_LABELS)}, got {list(head.labels)}")
        calibration = {lang: (float(a), float(b)) for lang, (a, b) in doc["calibration"].items()}
        thresholds = {preset: {lang: float(t) for lang, t in by_lang.items()} for preset, by_lang in doc["thresholds"].items()}
        if set(thresholds) != set(PRESETS) or any(set(t) != set(calibration) for t in thresholds.values()):
            raise ModelUnavailable(f"detector thresholds must cover presets {sorted(PRESETS)} in every calibrated language")
        kinds = {kind: {preset: {lang: float(t) for lang, t in by_lang.items()}
                        for preset, by_lang in spec["thresholds"].items()} for kind, spec in doc.get("kinds", {}).items()}
        for kind, by_preset in kinds.items():
            if kind not in KINDS or kind == BASE_KIND:
                raise ModelUnavailable(f"detector kind {kind!r} is not one of {', '.join(KINDS[1:])}")
            if set(by_preset) != set(PRESETS) or len({frozenset(t) for t in by_preset.values()}) != 1 \
                    or not set(next(iter(by_preset.values()))) <= set(calibration):
                raise ModelUnavailable(f"detector kind {kind!r} must cover presets {sorted(PRESETS)} in the same "
                                       "calibrated languages")
        return cls(head, calibration, thresholds, dict(doc.get("figures", {})), kinds,
                   {kind: dict(spec.get("figures", {})) for kind, spec in doc.get("kinds", {}).items()})

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
