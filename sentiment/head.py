"""A linear softmax head over sentence embeddings: load, save, predict, train.

The sentiment head's classes are negative/neutral/positive; the detector's are other/unhappy. A
model file holds the sentiment head at its top level and, where it has one, the detector under
``"detector"`` (see ``sentiment.detector``).

Prediction needs only numpy. Training (multinomial logistic regression with an L2 penalty, solved
by L-BFGS) uses torch, which the encoder needs anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelUnavailable
from .labels import LABELS


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


def class_weights(labels: np.ndarray, classes: int = len(LABELS)) -> np.ndarray:
    """Loss weights that make each class count equally whatever its share of the texts: an unbalanced
    file (tweeteval, a brand's corrections) would otherwise teach the head its class prior."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def fit_head(
    embeddings: np.ndarray, labels: np.ndarray, l2: float, class_weight: np.ndarray | None = None,
    classes: tuple[str, ...] = LABELS, anchor: LinearHead | None = None,
) -> LinearHead:
    """Multinomial logistic regression; ``labels`` are indices into ``classes``; ``l2`` is the penalty.

    With an ``anchor`` (the head in use), training starts from it and the penalty pulls towards its
    weights instead of towards zero: a few hundred corrections adjust the head, they do not replace
    what it learned from thousands of texts."""
    import torch

    x = torch.as_tensor(embeddings, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    cw = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    torch.manual_seed(0)
    start_w = torch.zeros(len(classes), x.shape[1]) if anchor is None else torch.as_tensor(anchor.weight).clone()
    start_b = torch.zeros(len(classes)) if anchor is None else torch.as_tensor(anchor.bias).clone()
    weight, bias = start_w.clone().requires_grad_(True), start_b.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500, tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y, weight=cw)
        loss = loss + l2 * ((weight - start_w) ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return LinearHead(weight.detach().numpy().copy(), bias.detach().numpy().copy(), labels=tuple(classes))
