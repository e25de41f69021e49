"""What a scorer returns for one text."""

from __future__ import annotations

from dataclasses import dataclass, field

from .labels import LABELS


@dataclass(frozen=True)
class Score:
    label: str
    confidence: float
    negative: float
    neutral: float
    positive: float
    unhappy: float | None = None  # the detector's P(unhappy customer), before calibration; None: no detector
    # The sentence embedding the scores came from (encoder scorers only): themes are assigned from it,
    # so a text passes through the encoder once.
    embedding: object = field(default=None, compare=False, repr=False)

    @classmethod
    def from_probabilities(cls, probs, embedding=None) -> Score:
        """From P(negative), P(neutral), P(positive), in that order, and P(unhappy) fourth if known."""
        values = [float(p) for p in probs]
        best = max(range(3), key=values.__getitem__)
        return cls(LABELS[best], values[best], *values[:3], *values[3:4], embedding=embedding)

    @property
    def probabilities(self) -> dict[str, float]:
        return {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}


# A blank text expresses no opinion; scoring it would only measure the model's prior.
BLANK = Score("neutral", 1.0, 0.0, 1.0, 0.0)
