"""The check every retrained version must pass, whatever a brand's configuration and corrections say: a
set of Italian and English texts written for Ascolto and shipped with it (``gate_set/``), each labelled
by the product's question (is this customer unhappy with the brand, should someone answer?).

A new version may not hear fewer of its unhappy customers than the active one, at any preset and in
either language, beyond a small tolerance; nor raise clearly more false alarms. Nor may it fall that
far below the shipped model: compared only with the active version, a string of versions each a
little worse could walk away from the shipped model's recall a tolerance at a time. Corrections can
teach the model a brand's own words; they cannot teach it to stop hearing complaints: a person (or a
script) clicking "not a complaint" on every alert makes a version that fails here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from listener.rules import DEFAULT_CONFIDENCE, judge
from sentiment.runtime.detector import PRESETS, Detector
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.scorers import scores_from
from sentiment.training.datasets import read_rows

GATE_SET = Path(__file__).with_name("gate_set")
SHIPPED = (GATE_SET / "gate_it.jsonl", GATE_SET / "gate_en.jsonl")
# At most this much recall may be lost (80 unhappy texts per language: four of them, about one
# standard error of a recall near 0.9 measured on 80 texts; an honest team's 30 false alarms cost
# three), and this much precision (the share of alerts that are right), per preset and language.
# A poisoned version loses far more (one person's 300 clicks: recall 0.88 -> 0.00).
RECALL_TOLERANCE = 0.05
PRECISION_TOLERANCE = 0.05


@dataclass(frozen=True)
class GateText:
    text: str
    unhappy: bool
    lang: str
    kind: str  # post or review


@dataclass(frozen=True)
class GateCheck:
    """One preset in one language: the active version's and the new one's recall and precision."""

    preset: str
    lang: str
    unhappy: int  # texts of the gate set that are unhappy customers
    old_recall: float
    new_recall: float
    old_precision: float
    new_precision: float
    against: str = "active"  # the version the new one is compared with: the active one, or the shipped one

    @property
    def failed(self) -> str | None:
        """Why the new version fails here, in a few words; None if it passes."""
        than = "" if self.against == "active" else f" (against the {self.against} model)"
        if self.new_recall < self.old_recall - RECALL_TOLERANCE:
            return f"{self.preset} recall ({self.lang}) {self.old_recall:.2f} -> {self.new_recall:.2f}{than}"
        if self.new_precision < self.old_precision - PRECISION_TOLERANCE:
            return f"{self.preset} precision ({self.lang}) {self.old_precision:.2f} -> {self.new_precision:.2f}{than}"
        return None

    def rows(self) -> list[dict]:
        """As the version's other checks are recorded (``model_versions.validation``)."""
        on = f"gate set {self.lang} {self.preset}" + ("" if self.against == "active" else f" vs {self.against}")
        return [{"on": on, "metric": "recall", "old": self.old_recall, "new": self.new_recall},
                {"on": on, "metric": "precision", "old": self.old_precision, "new": self.new_precision}]


def read_gate(paths: Sequence[Path] | None = None) -> list[GateText]:
    """The gate set: the shipped files (``paths`` only where a test replaces them)."""
    def parse(row: dict) -> GateText:
        if not isinstance(row["unhappy"], bool):
            raise TypeError("unhappy must be true or false")
        return GateText(str(row["text"]), row["unhappy"], str(row["lang"]), str(row.get("kind", "post")))

    return [text for path in paths or SHIPPED for text in read_rows(path, parse, '{"text", "unhappy", "lang", "kind"}')]


def gate_checks(x: np.ndarray, old: tuple[LinearHead, Detector], new: tuple[LinearHead, Detector],
                texts: Sequence[GateText], against: str = "active") -> list[GateCheck]:
    """The alert rule of each version ((sentiment head, detector): the pleased veto needs the first) on
    the gate set (``texts``, embedded as ``x``), per preset and language, as the product applies it;
    ``old`` is the ``against`` version (the active one, or the shipped one)."""
    alerts = {"old": _alerts(old, x, texts), "new": _alerts(new, x, texts)}
    gold = np.asarray([t.unhappy for t in texts])
    checks = []
    for lang in sorted({t.lang for t in texts}):
        mine = np.asarray([t.lang == lang for t in texts])
        for preset in PRESETS:
            (old_recall, old_precision), (new_recall, new_precision) = (
                _recall_precision(alerts[version][preset][mine], gold[mine]) for version in ("old", "new"))
            checks.append(GateCheck(preset, lang, int(gold[mine].sum()), old_recall, new_recall, old_precision,
                                    new_precision, against))
    return checks


def _alerts(version: tuple[LinearHead, Detector], x: np.ndarray, texts: Sequence[GateText]) -> dict[str, np.ndarray]:
    head, detector = version
    scores = scores_from(x, head, detector, keep_embeddings=False)
    return {preset: np.asarray([judge(s, t.lang, detector, preset, DEFAULT_CONFIDENCE, kind=t.kind).alert
                                for s, t in zip(scores, texts)]) for preset in PRESETS}


def _recall_precision(alerted: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    hits = int((alerted & gold).sum())
    recall = hits / gold.sum() if gold.any() else 1.0
    precision = hits / alerted.sum() if alerted.any() else 1.0
    return round(float(recall), 4), round(float(precision), 4)
