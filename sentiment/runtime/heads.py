"""Linear softmax heads over sentence embeddings: load, save, predict (numpy only).

The sentiment head's classes are negative/neutral/positive; the detector's are other/unhappy. A
model file holds the sentiment head at its top level and, where it has one, the detector under
``"detector"`` (see ``sentiment.runtime.detector``; ``sentiment.runtime.model_file`` reads both).
Training them is ``sentiment.training.heads``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiment.errors import ModelUnavailable
from sentiment.runtime.labels import LABELS


@dataclass
class LinearHead:
    weight: np.ndarray  # [classes, dim], rows in ``labels`` order
    bias: np.ndarray  # [classes]
    info: dict = field(default_factory=dict)  # encoder, prefix, training data, chosen penalty, scores
    labels: tuple[str, ...] = LABELS

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path, extra: dict | None = None) -> None:
        """JSON, one weight row per line; ``extra`` keys (the detector) follow the head's own."""
        body = self.text_fields()
        for key, value in (extra or {}).items():
            body += f',\n "{key}": {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}'
        Path(path).write_text("{\n" + body + "\n}\n")

    def text_fields(self, indent: str = " ") -> str:
        def numbers(values) -> str:  # 5 significant digits: the head's error is far below the model's
            return "[" + ",".join(f"{v:.5g}" for v in values) + "]"

        rows = f",\n{indent} ".join(numbers(row) for row in self.weight)
        return (f'{indent}"labels": {json.dumps(list(self.labels))},\n'
                f'{indent}"info": {json.dumps(self.info, ensure_ascii=False, sort_keys=True)},\n'
                f'{indent}"bias": {numbers(self.bias)},\n'
                f'{indent}"weight": [\n{indent} {rows}\n{indent}]')

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        doc = read_model_file(path)
        if doc.get("labels") != list(LABELS):
            raise ModelUnavailable(f"sentiment head {path}: labels must be {list(LABELS)}")
        return cls.from_dict(doc)

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "info": self.info, "bias": [float(v) for v in self.bias],
                "weight": [[float(v) for v in row] for row in self.weight]}

    @classmethod
    def from_dict(cls, doc: dict) -> LinearHead:
        weight = np.asarray(doc["weight"], dtype=np.float32)
        return cls(weight, np.asarray(doc["bias"], dtype=np.float32), doc.get("info", {}), tuple(doc["labels"]))


def read_model_file(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read sentiment head {path}: {exc}") from None
    if not isinstance(doc, dict) or not {"labels", "weight", "bias"} <= set(doc):
        raise ModelUnavailable(f"sentiment head {path}: not a head file (labels, weight and bias are required)")
    return doc


def blank_head(prefix: str = "query: ") -> LinearHead:
    """A head that knows nothing yet: the encoder's companion while a new head or adapters train."""
    return LinearHead(np.zeros((len(LABELS), 1), np.float32), np.zeros(len(LABELS), np.float32), {"prefix": prefix})
