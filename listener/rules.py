"""The alert rule: does this text raise an alert, and what class (promoter, passive, detractor) is
its author? The product's decision, made from what the model says of the text.

A 1-2 star rating always alerts (unless the brand turns that off); else the unhappy-customer
detector at the brand's preset, the text's language and its kind (a text with a star rating is a
review, judged with the detector's review thresholds where it has them); a model without a detector
falls back to a confident negative sentiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sentiment.runtime.detector import BASE_KIND, DEFAULT_PRESET, Detector, text_kind
from sentiment.scoring import Score
from surveys.nps import DETRACTOR, PASSIVE, PROMOTER

# A mention's confidence below this is not enough to call its author a promoter or a detractor.
DEFAULT_CONFIDENCE = 0.6
# At the balanced and strict presets, a text the sentiment head reads as pleased (P(positive) at
# least 0.5) does not alert on the detector alone: away from its training domains (complaints to
# brands, reviews) the detector also fires on happy customers who name a problem that was solved
# ("assistenza gentilissima, problema risolto"). On the validation files the veto costs 1.2 points of
# recall in English at balanced (0.904 to 0.892), none at strict and none in Italian; the sensitive
# preset keeps every alert.
POSITIVE_VETO = {"sensitive": None, "balanced": 0.5, "strict": 0.5}


@dataclass(frozen=True)
class Verdict:
    """What the alert rule says of one scored text."""

    alert: bool
    p_unhappy: float | None  # calibrated; None without a detector
    rule: str  # "detector", "sentiment" (no detector: a confident negative), "rating" or "survey"
    threshold: float | None = None  # what p_unhappy (detector) or the confidence (sentiment) had to reach


def judge(score: Score, lang: str | None, detector: Detector | None, preset: str, min_confidence: float,
          rating: int | None = None, low_rating_alerts: bool = True, kind: str = BASE_KIND) -> Verdict:
    """Should this text raise an alert? A 1-2 star rating always does (unless the brand turns that
    off); else the detector at the brand's preset; a model without a detector falls back to a
    confident negative sentiment."""
    raw = score.raw_unhappy if detector else None
    p_unhappy = detector.probability(raw, lang, kind) if raw is not None else None
    if low_rating_alerts and rating is not None and rating <= 2:
        return Verdict(True, p_unhappy, "rating")
    if p_unhappy is not None:
        veto = POSITIVE_VETO.get(preset)
        pleased = veto is not None and score.positive >= veto
        return Verdict(detector.is_unhappy(raw, lang, preset, kind) and not pleased, p_unhappy, "detector",
                       detector.threshold(preset, lang, raw, kind))
    return Verdict(score.label == "negative" and score.confidence >= min_confidence, None, "sentiment", min_confidence)


def mention_class(label: str, confidence: float, threshold: float = DEFAULT_CONFIDENCE) -> str:
    """A mention's class from its sentiment: a confident negative is a detractor, a confident
    positive a promoter; neutral or unsure is passive (better a missed alert than a false one)."""
    if confidence >= threshold and label == "negative":
        return DETRACTOR
    if confidence >= threshold and label == "positive":
        return PROMOTER
    return PASSIVE


@dataclass(frozen=True)
class AlertRules:
    """How a brand wants to be alerted: the detector's preset per brand, whether a 1-2 star rating
    alerts by itself, and the confidence a sentiment needs to count (promoters, and detractors for a
    model without a detector)."""

    min_confidence: float = DEFAULT_CONFIDENCE
    presets: Mapping[str, str] = field(default_factory=dict)  # brand -> preset
    low_rating_alerts: Mapping[str, bool] = field(default_factory=dict)  # brand -> on/off
    # brand -> the language a text is judged in when none is detected (short comments often have
    # none): the brand's first language, its market's. Without it the detector would take the most
    # alert-prone language's threshold, and short neutral Italian comments alerted at English's 0.24.
    languages: Mapping[str, str] = field(default_factory=dict)

    def preset(self, brand: str) -> str:
        return self.presets.get(brand, DEFAULT_PRESET)

    def classify(self, brand: str, lang: str | None, score: Score, detector: Detector | None,
                 rating: int | None = None, survey_class: str | None = None) -> tuple[str, Verdict]:
        """(class, verdict) of a text about ``brand``; a survey answer's class is its score's, and it
        alerts exactly when it is a detractor's."""
        if survey_class is not None:
            return survey_class, Verdict(survey_class == DETRACTOR, None, "survey")
        verdict = judge(score, lang or self.languages.get(brand), detector, self.preset(brand), self.min_confidence,
                        rating, self.low_rating_alerts.get(brand, True), text_kind(rating))
        if verdict.alert:
            return DETRACTOR, verdict
        confident = score.confidence >= self.min_confidence
        return (PROMOTER if score.label == "positive" and confident else PASSIVE), verdict
