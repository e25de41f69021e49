"""Training linear heads over sentence embeddings: multinomial logistic regression with an L2 penalty,
solved by L-BFGS (torch, which the encoder needs anyway), and the penalty chosen on validation.

The penalty is chosen on the validation files (mean macro-F1 across them), then the head is refit on
train + validation with that penalty. Held-out test files never enter here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sentiment.evaluation.metrics import Report, evaluate
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import LABELS
from sentiment.training.datasets import LabelledTexts, training_set

L2_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)


@dataclass
class TrainingResult:
    head: LinearHead
    l2: float
    validation: dict[float, list[Report]]  # penalty -> one report per validation file


def _indices(labels: Sequence[str]) -> np.ndarray:
    return np.asarray([LABELS.index(label) for label in labels])


def _predict(head: LinearHead, embeddings: np.ndarray) -> list[str]:
    return [LABELS[i] for i in head.probabilities(embeddings).argmax(axis=1)]


def train_head(
    embed: Callable[[list[str]], np.ndarray],
    train: Sequence[LabelledTexts],
    val: Sequence[LabelledTexts],
    l2_grid: Sequence[float] = L2_GRID,
    log: Callable[[str], None] = lambda line: None,
) -> TrainingResult:
    train, dropped = training_set(list(train), list(val))
    if dropped:
        log(f"left out {dropped} training texts that are validation texts or repeats")
    log(f"embedding {sum(len(d.texts) for d in (*train, *val))} texts")
    x_train = np.concatenate([embed(d.texts) for d in train])
    y_train = _indices([label for d in train for label in d.labels])
    x_val = [embed(d.texts) for d in val]
    validation = {}
    for l2 in l2_grid:
        head = fit_head(x_train, y_train, l2, class_weights(y_train))
        validation[l2] = [evaluate(d.name, d.labels, _predict(head, x)) for d, x in zip(val, x_val)]
        log(f"l2={l2:g}: " + ", ".join(f"{r.name} macro-F1 {r.macro_f1:.3f}" for r in validation[l2]))
    best = max(l2_grid, key=lambda l2: np.mean([r.macro_f1 for r in validation[l2]]))
    x_all = np.concatenate([x_train, *x_val])
    y_all = np.concatenate([y_train, *[_indices(d.labels) for d in val]])
    head = fit_head(x_all, y_all, best, class_weights(y_all))
    head.info.update(
        l2=best,
        train=[d.name for d in train],
        validation={r.name: round(r.macro_f1, 4) for r in validation[best]},
    )
    log(f"chose l2={best:g}; refit on train + validation ({len(y_all)} texts)")
    return TrainingResult(head, best, validation)


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
    classes: tuple[str, ...] = LABELS, anchor: LinearHead | None = None, sample_weight: np.ndarray | None = None,
) -> LinearHead:
    """Multinomial logistic regression; ``labels`` are indices into ``classes``, or an ``[n, classes]``
    array of target probabilities (a teacher's soft labels); ``l2`` is the penalty; ``sample_weight``
    (default 1 each) scales each text's loss, times its class's ``class_weight``.

    With an ``anchor`` (the head in use), training starts from it and the penalty pulls towards its
    weights instead of towards zero: a few hundred corrections adjust the head, they do not replace
    what it learned from thousands of texts."""
    import torch

    x = torch.as_tensor(embeddings, dtype=torch.float32)
    y = torch.as_tensor(labels)
    soft = y.ndim == 2
    y = y.to(torch.float32) if soft else y.to(torch.long)
    cw = torch.ones(len(classes)) if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    sw = torch.ones(len(x)) if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
    w = sw * (y @ cw if soft else cw[y])  # as cross_entropy's class weights do, the mean is over the weights
    torch.manual_seed(0)
    start_w = torch.zeros(len(classes), x.shape[1]) if anchor is None else torch.as_tensor(anchor.weight, dtype=torch.float32).clone()
    start_b = torch.zeros(len(classes)) if anchor is None else torch.as_tensor(anchor.bias, dtype=torch.float32).clone()
    weight, bias = start_w.clone().requires_grad_(True), start_b.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500, tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        log_p = torch.log_softmax(x @ weight.T + bias, dim=1)
        per_text = -(y * log_p).sum(1) if soft else -log_p.gather(1, y[:, None])[:, 0]
        loss = (per_text * w).sum() / w.sum() + l2 * ((weight - start_w) ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return LinearHead(weight.detach().numpy().copy(), bias.detach().numpy().copy(), labels=tuple(classes))
