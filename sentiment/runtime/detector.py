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
it (``MIN_KIND_UNHAPPY`` unhappy texts in a language), the kind has its own rule (``KindRule``):
thresholds chosen the same way on that kind's files, so that a preset keeps its recall in every kind,
and, where the model has one, the kind's own head (one more linear layer on the same embedding,
trained on that kind's texts: reviews say unhappiness differently from complaints to a brand) with its
own calibration. Elsewhere a kind takes the posts' rule (``BASE_KIND``). A scorer gives the raw
probability of every head (``Score.kind_unhappy``); the rule picks the one that applies.

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


Raw = float | Mapping[str, float]  # P(unhappy) before calibration: the posts' head's, or by kind (``raws_of``)


@dataclass
class KindRule:
    """How the detector judges one kind of text (other than posts), in the languages of ``thresholds``:
    on the posts' head and calibration, or on the kind's own head (one more linear layer on the same
    embedding) with its own calibration. Elsewhere the kind takes the posts' rule."""

    thresholds: dict[str, dict[str, float]]  # preset -> language -> threshold on the calibrated probability
    figures: dict = field(default_factory=dict)  # preset -> language -> validation precision, recall, rows
    head: LinearHead | None = None  # the kind's own head; None: the posts'
    calibration: dict[str, tuple[float, float]] = field(default_factory=dict)  # with its own head: per language

    @property
    def languages(self) -> set[str]:
        return set(next(iter(self.thresholds.values()), {}))

    def to_dict(self) -> dict:
        own = {} if self.head is None else {"head": self.head.to_dict(),
                                            "calibration": {k: list(v) for k, v in self.calibration.items()}}
        return {"thresholds": self.thresholds, "figures": self.figures, **own}

    @classmethod
    def from_dict(cls, kind: str, doc: Mapping, calibrated: set[str], dim: int) -> KindRule:
        if kind not in KINDS or kind == BASE_KIND:
            raise ModelUnavailable(f"detector kind {kind!r} is not one of {', '.join(KINDS[1:])}")
        thresholds = {preset: {lang: float(t) for lang, t in by_lang.items()} for preset, by_lang in doc["thresholds"].items()}
        rule = cls(thresholds, dict(doc.get("figures", {})))
        if set(thresholds) != set(PRESETS) or len({frozenset(t) for t in thresholds.values()}) != 1 \
                or not rule.languages <= calibrated:
            raise ModelUnavailable(f"detector kind {kind!r} must cover presets {sorted(PRESETS)} in the same "
                                   "calibrated languages")
        if "head" in doc:
            rule.head = LinearHead.from_dict(doc["head"])
            rule.calibration = {lang: (float(a), float(b)) for lang, (a, b) in doc["calibration"].items()}
            if rule.head.labels != UNHAPPY_LABELS or set(rule.calibration) != rule.languages \
                    or rule.head.weight.shape != (len(UNHAPPY_LABELS), dim):
                raise ModelUnavailable(f"detector kind {kind!r}: its own head must be labelled "
                                       f"{list(UNHAPPY_LABELS)}, take the posts' head's {dim}-number embedding "
                                       "and be calibrated in each of its languages")
        return rule


@dataclass
class Detector:
    head: LinearHead  # classes other, unhappy
    calibration: dict[str, tuple[float, float]]  # language -> (a, b): p = sigmoid(a * logit + b)
    thresholds: dict[str, dict[str, float]]  # preset -> language -> threshold on the calibrated probability
    figures: dict = field(default_factory=dict)  # preset -> language -> validation precision, recall, rows
    # the kinds (other than posts) whose validation data supported their own rule; any other kind takes
    # the posts' (``thresholds``), and so does a kind in a language its rule does not cover
    kinds: dict[str, KindRule] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.calibration)

    @property
    def kind_heads(self) -> dict[str, LinearHead]:
        """The kinds that have their own head: each text's raw probability is wanted from them too."""
        return {kind: rule.head for kind, rule in self.kinds.items() if rule.head is not None}

    def probability(self, raw: Raw, lang: str | None, kind: str = BASE_KIND) -> float:
        """The calibrated probability that the author is unhappy, for a text in ``lang`` of ``kind``."""
        value, (a, b), _ = self._rule(kind, self._language(raw, lang, kind=kind), raw)
        return sigmoid(a * logit(value) + b)

    def threshold(self, preset: str, lang: str | None, raw: Raw | None = None, kind: str = BASE_KIND) -> float:
        """The preset's threshold for ``lang`` and ``kind`` (for an unknown language, the one ``is_unhappy``
        uses)."""
        return self._rule(kind, self._language(raw, lang, preset, kind), raw)[2][preset]

    def is_unhappy(self, raw: Raw, lang: str | None, preset: str = DEFAULT_PRESET, kind: str = BASE_KIND) -> bool:
        return self._margin(raw, self._language(raw, lang, preset, kind), preset, kind) >= 0

    def _rule(self, kind: str, lang: str, raw: Raw | None) -> tuple[float | None, tuple[float, float], dict]:
        """(the raw probability that applies, its calibration, each preset's threshold) for a text of
        ``kind`` in ``lang``. A kind's own head applies only where the text's raw probability from it is
        known (``raw`` by kind); a score without it is judged as a post."""
        raws = raws_of(raw)
        rule = self.kinds.get(kind)
        if rule is not None and lang in rule.languages:
            if rule.head is None:
                return raws.get(BASE_KIND), self.calibration[lang], {p: t[lang] for p, t in rule.thresholds.items()}
            if kind in raws or raw is None:
                return raws.get(kind), rule.calibration[lang], {p: t[lang] for p, t in rule.thresholds.items()}
        return raws.get(BASE_KIND), self.calibration[lang], {p: t[lang] for p, t in self.thresholds.items()}

    def _language(self, raw: Raw | None, lang: str | None, preset: str = DEFAULT_PRESET,
                  kind: str = BASE_KIND) -> str:
        """``lang`` if calibrated for; else (language unknown) the language whose rule is most inclined
        to alert on this text: a missed unhappy customer costs more than a second look."""
        if lang in self.calibration:
            return lang
        if raw is None:
            return min(self.languages, key=lambda lang: self._rule(kind, lang, None)[2][preset])
        return max(self.languages, key=lambda lang: self._margin(raw, lang, preset, kind))

    def _margin(self, raw: Raw, lang: str, preset: str, kind: str) -> float:
        value, (a, b), thresholds = self._rule(kind, lang, raw)
        return sigmoid(a * logit(value) + b) - thresholds[preset]

    def to_dict(self) -> dict:
        return {**self.head.to_dict(), "calibration": {k: list(v) for k, v in self.calibration.items()},
                "thresholds": self.thresholds, "figures": self.figures,
                **({"kinds": {kind: rule.to_dict() for kind, rule in self.kinds.items()}} if self.kinds else {})}

    @classmethod
    def from_dict(cls, doc: Mapping) -> Detector:
        head = LinearHead.from_dict(doc)
        if head.labels != UNHAPPY_LABELS:
            raise ModelUnavailable(f"detector labels must be {list(UNHAPPY_LABELS)}, got {list(head.labels)}")
        calibration = {lang: (float(a), float(b)) for lang, (a, b) in doc["calibration"].items()}
        thresholds = {preset: {lang: float(t) for lang, t in by_lang.items()} for preset, by_lang in doc["thresholds"].items()}
        if set(thresholds) != set(PRESETS) or any(set(t) != set(calibration) for t in thresholds.values()):
            raise ModelUnavailable(f"detector thresholds must cover presets {sorted(PRESETS)} in every calibrated language")
        kinds = {kind: KindRule.from_dict(kind, spec, set(calibration), head.weight.shape[1])
                 for kind, spec in doc.get("kinds", {}).items()}
        return cls(head, calibration, thresholds, dict(doc.get("figures", {})), kinds)

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


def raws_of(raw: Raw | None) -> Mapping[str, float]:
    """A raw probability by kind: a bare number is the posts' head's."""
    return raw if isinstance(raw, Mapping) else {} if raw is None else {BASE_KIND: raw}


def raw_by_kind(detector: Detector, embeddings: np.ndarray) -> dict[str, np.ndarray]:
    """P(unhappy) before calibration from each head of ``detector``: the posts' (``BASE_KIND``), and each
    kind's own where it has one. One matrix product each on embeddings already computed."""
    return {BASE_KIND: raw_probability(detector.head, embeddings),
            **{kind: raw_probability(head, embeddings) for kind, head in detector.kind_heads.items()}}


def raw_probability(head: LinearHead, embeddings: np.ndarray) -> np.ndarray:
    """P(unhappy) from the detector head, before calibration."""
    return head.probabilities(embeddings)[:, UNHAPPY_LABELS.index("unhappy")]


def logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p)) if isinstance(p, np.ndarray) else math.log(p / (1 - p))


def sigmoid(x):
    return 1 / (1 + np.exp(-x)) if isinstance(x, np.ndarray) else 1 / (1 + math.exp(-x))
