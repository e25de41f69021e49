"""Net Promoter Score arithmetic.

Score bands: 0-6 detractor, 7-8 passive, 9-10 promoter. NPS = %promoters - %detractors, in -100..100.
The interval is the adjusted-Wald interval for a difference of two multinomial proportions
(Sauro & Lewis, "Quantifying the User Experience", ch. 5; Rocks 2016): add z^2/4 to promoters and to
detractors and z^2 to n, then a Wald interval on the adjusted proportions. It keeps its nominal
coverage at the small samples a small brand sees, where the plain Wald interval is too narrow. At
the extremes (all of a few answers in one class) the adjusted centre moves away from the observed
score far enough that the interval would miss it: the interval is then widened to reach it, so that a
reader never sees an estimate outside its own interval ("-100 (-87 to +46)").

Below ``MIN_VERDICT`` answers in a group no difference is called significant: the test's normal
approximation does not hold there, and one answer is not a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"
Z95 = 1.959963984540054
MIN_VERDICT = 10  # answers in each group before a difference may be called significant


def nps_class(score: int) -> str:
    """The class of a 0-10 survey score; 0 is a score (a detractor), not a missing answer."""
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise ValueError(f"an NPS score is a whole number from 0 to 10, got {score!r}")
    if score >= 9:
        return PROMOTER
    return PASSIVE if score >= 7 else DETRACTOR


@dataclass(frozen=True)
class Nps:
    promoters: int
    passives: int
    detractors: int
    score: float | None  # -100..100; None with no responses
    low: float | None
    high: float | None
    confidence: float
    standard_error: float | None = None  # of the adjusted estimate, in NPS points

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors


def nps(promoters: int, passives: int, detractors: int, z: float = Z95, confidence: float = 0.95) -> Nps:
    n = promoters + passives + detractors
    if n == 0:
        return Nps(0, 0, 0, None, None, None, confidence)
    point = 100 * (promoters - detractors) / n
    n_adj = n + z * z
    p_pro = (promoters + z * z / 4) / n_adj
    p_det = (detractors + z * z / 4) / n_adj
    centre = p_pro - p_det
    se = math.sqrt((p_pro + p_det - centre**2) / n_adj)
    low, high = max(-1.0, centre - z * se), min(1.0, centre + z * se)
    low, high = min(low, point / 100), max(high, point / 100)  # the interval holds what was observed
    return Nps(promoters, passives, detractors, point, 100 * low, 100 * high, confidence, 100 * se)


@dataclass(frozen=True)
class Change:
    delta: float  # NPS points, current minus previous
    significant: bool  # at 95%: the interval of the difference excludes 0, with MIN_VERDICT answers each side
    low: float
    high: float


def nps_change(current: Nps, previous: Nps, z: float = Z95) -> Change | None:
    """The change between two independent periods, with a Wald interval on the difference of the
    adjusted estimates (their standard errors combined in quadrature); never significant with fewer
    than ``MIN_VERDICT`` answers on a side."""
    if current.score is None or previous.score is None:
        return None
    delta = current.score - previous.score
    se = math.hypot(current.standard_error, previous.standard_error)
    enough = min(current.responses, previous.responses) >= MIN_VERDICT
    return Change(delta, enough and abs(delta) > z * se, delta - z * se, delta + z * se)


def nps_from_scores(scores) -> Nps:
    classes = [nps_class(s) for s in scores]
    return nps(classes.count(PROMOTER), classes.count(PASSIVE), classes.count(DETRACTOR))
