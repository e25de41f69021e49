"""A model file: the sentiment head at its top level and, where it has one, the unhappy-customer
detector under ``"detector"``; its LoRA adapters, if any, in the file its head's ``info.adapter``
names beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .detector import Detector
from .heads import LinearHead


@dataclass
class Heads:
    """The heads of one model file: the sentiment head and, where it has one, the detector."""

    sentiment: LinearHead
    detector: Detector | None = None

    @classmethod
    def load(cls, path: Path) -> Heads:
        return cls(LinearHead.load(path), Detector.load(path))

    def save(self, path: Path) -> None:
        self.sentiment.save(path, extra={"detector": self.detector.to_dict()} if self.detector else None)
