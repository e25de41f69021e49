"""The scoring seam: what every scorer gives, whatever runs it (torch, ONNX Runtime, a hub
classifier, a Ray cluster).

``Scorer`` is the protocol the product codes against: a name (stored with every text it scores), a
batch of texts in, one ``Score`` per text out, and ``embed`` for texts whose embeddings alone are
wanted (theme examples, retraining). ``detector`` is the calibrated unhappy-customer head where the
model has one; ``heads`` are the linear heads a team's corrections can retrain, where the model has
them (encoder + head models). Backends implement the protocol; ``tests/test_layout.py`` checks each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sentiment.runtime.detector import BASE_KIND
from sentiment.runtime.labels import LABELS

if TYPE_CHECKING:
    import numpy as np

    from sentiment.runtime.detector import Detector
    from sentiment.runtime.model_file import Heads


@dataclass(frozen=True)
class Score:
    label: str
    confidence: float
    negative: float
    neutral: float
    positive: float
    unhappy: float | None = None  # the detector's P(unhappy customer), before calibration; None: no detector
    # (kind, P(unhappy)) from each kind's own detector head (reviews), where the detector has one
    kind_unhappy: tuple[tuple[str, float], ...] = ()
    # The sentence embedding the scores came from: themes are assigned from it, so a text passes
    # through the encoder once. None: the scorer has no embedding of this text (a blank text).
    embedding: object = field(default=None, compare=False, repr=False)

    @classmethod
    def from_probabilities(cls, probs, embedding=None, kind_unhappy=()) -> Score:
        """From P(negative), P(neutral), P(positive), in that order, and P(unhappy) fourth if known;
        ``kind_unhappy``: (kind, P(unhappy)) pairs from the detector's kind heads."""
        values = [float(p) for p in probs]
        best = max(range(3), key=values.__getitem__)
        return cls(LABELS[best], values[best], *values[:3], *values[3:4],
                   kind_unhappy=tuple((kind, float(p)) for kind, p in kind_unhappy), embedding=embedding)

    @property
    def raw_unhappy(self) -> dict[str, float] | None:
        """The detector's raw P(unhappy) by kind of text ("post": the posts' head), as the detector reads
        it; None without a detector."""
        return None if self.unhappy is None else {BASE_KIND: self.unhappy, **dict(self.kind_unhappy)}

    @property
    def probabilities(self) -> dict[str, float]:
        return {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}


# A blank text expresses no opinion; scoring it would only measure the model's prior.
BLANK = Score("neutral", 1.0, 0.0, 1.0, 0.0)


@runtime_checkable
class Scorer(Protocol):
    """What the product needs of a model. ``embed`` returns an ``[n, d]`` float32 array of unit
    vectors (``d == 0``: a scorer without embeddings; themes then go by keywords alone)."""

    name: str
    detector: Detector | None
    heads: Heads | None

    def score(self, texts: Sequence[str]) -> list[Score]: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def blank_aware(texts: Sequence[str], score_live) -> list[Score]:
    """``score_live(texts)`` on the texts that have words; a blank text is ``BLANK`` without calling
    the model. Every backend scores through this, so they treat blank texts alike."""
    scores: list[Score] = [BLANK] * len(texts)
    live = [i for i, text in enumerate(texts) if text and text.strip()]
    if live:
        for i, score in zip(live, score_live([texts[i] for i in live]), strict=True):
            scores[i] = score
    return scores
