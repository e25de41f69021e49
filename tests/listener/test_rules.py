"""The alert rule (listener.rules): a text in no detected language is judged in its brand's language."""

import numpy as np

from listener.rules import AlertRules
from sentiment.runtime.detector import Detector
from sentiment.runtime.heads import LinearHead
from sentiment.scoring import Score


def detector() -> Detector:
    """Calibration left as is (p = raw); Italian strict-ish at 0.82, English eager at 0.24, like the shipped one."""
    head = LinearHead(np.zeros((2, 4)), np.zeros(2), labels=("other", "unhappy"))
    thresholds = {preset: {"it": 0.82, "en": 0.24} for preset in ("sensitive", "balanced", "strict")}
    return Detector(head, {"it": (1.0, 0.0), "en": (1.0, 0.0)}, thresholds)


def test_a_short_comment_with_no_language_is_judged_in_the_brands_language():
    score = Score("neutral", 0.5, 0.3, 0.5, 0.2, unhappy=0.5)  # "Bella gente!": no language detected
    italian = AlertRules(presets={"Caffè Aurora": "balanced"}, languages={"Caffè Aurora": "it"})
    klass, verdict = italian.classify("Caffè Aurora", None, score, detector())
    assert not verdict.alert and verdict.threshold == 0.82
    english = AlertRules(presets={"Lanificio Vento": "balanced"}, languages={"Lanificio Vento": "en"})
    assert english.classify("Lanificio Vento", None, score, detector())[1].alert  # an English brand: 0.24
    assert italian.classify("Caffè Aurora", "en", score, detector())[1].alert  # a detected language wins
