import math

import pytest

from listener.rules import mention_class
from surveys.nps import DETRACTOR, PASSIVE, PROMOTER, nps, nps_class, nps_from_scores


@pytest.mark.parametrize("score,expected", [(0, DETRACTOR), (6, DETRACTOR), (7, PASSIVE), (8, PASSIVE),
                                            (9, PROMOTER), (10, PROMOTER)])
def test_score_bands(score, expected):
    assert nps_class(score) == expected


@pytest.mark.parametrize("bad", [-1, 11, 7.5, "9", None, True])
def test_scores_outside_0_to_10_are_refused(bad):
    with pytest.raises(ValueError, match="0 to 10"):
        nps_class(bad)


def test_nps_and_adjusted_wald_interval_match_a_hand_computation():
    result = nps(promoters=50, passives=30, detractors=20)
    assert result.score == pytest.approx(30.0)
    # By hand: z^2 = 3.8415, n' = 103.8415, p' = 50.9604/n' = 0.49075, d' = 20.9604/n' = 0.20185,
    # centre 0.28890, se = sqrt((0.6926 - 0.28890^2) / n') = 0.076591, 0.28890 -+ 1.96 * se.
    assert result.low == pytest.approx(13.888, abs=0.01)
    assert result.high == pytest.approx(43.901, abs=0.01)
    assert result.responses == 100


def test_interval_stays_within_bounds_and_is_wide_for_tiny_samples():
    result = nps(promoters=3, passives=0, detractors=0)
    assert result.score == 100
    # Three happy customers prove little: the interval spans more than half the scale.
    assert -100 <= result.low < 0 < result.high <= 100
    assert result.high - result.low > 100
    assert nps(0, 0, 0).score is None


def test_nps_from_scores_counts_zero_as_a_detractor():
    result = nps_from_scores([0, 10, 9, 7])
    assert (result.promoters, result.passives, result.detractors) == (2, 1, 1)
    assert math.isclose(result.score, 25.0)


@pytest.mark.parametrize("label,confidence,expected", [
    ("negative", 0.9, DETRACTOR), ("negative", 0.5, PASSIVE), ("neutral", 0.99, PASSIVE),
    ("positive", 0.6, PROMOTER), ("positive", 0.59, PASSIVE),
])
def test_mention_class_needs_confidence(label, confidence, expected):
    assert mention_class(label, confidence, threshold=0.6) == expected


@pytest.mark.parametrize("counts", [(0, 0, 1), (1, 0, 0), (0, 0, 2), (3, 0, 0), (0, 1, 0), (0, 0, 30), (40, 0, 0)])
def test_the_interval_holds_its_own_estimate_at_the_extremes(counts):
    value = nps(*counts)
    assert value.low <= value.score <= value.high and -100 <= value.low and value.high <= 100


def test_no_change_is_significant_below_the_minimum_answers():
    from surveys.nps import MIN_VERDICT, nps_change

    assert not nps_change(nps(0, 0, 1), nps(1, 0, 0)).significant  # -100 vs +100 on one answer each
    assert not nps_change(nps(0, 0, MIN_VERDICT - 1), nps(40, 0, 0)).significant
    assert nps_change(nps(0, 0, MIN_VERDICT), nps(40, 0, 0)).significant
