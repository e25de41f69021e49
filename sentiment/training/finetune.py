"""Fine-tuning the offline encoder with LoRA adapters (peft), so that the change commits in a few MB.

Every linear layer of the 12 transformer blocks gets a low-rank update ``W + (alpha / r) * B @ A``
(Hu et al., 2021; peft's LoRA, A initialised Kaiming-uniform and B at zero, so training starts from
the base model), trained together with new linear heads on the heads' usual input (the mean-pooled,
L2-normalised embedding). The 117 M base weights stay frozen; the adapters are ~0.7 M numbers per
rank-8, saved in Ascolto's format (``sentiment.building.adapters``) and merged into a copy of the
encoder folder at load time. The epoch kept is the one with the best mean validation macro-F1; test
files never enter here.

Several heads can train on one encoder at once (``Task``): the sentiment head and the unhappy-customer
detector share the adapters, so one pass of the encoder serves both at scoring time. peft comes
with the ``train`` extra; scoring never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sentiment.errors import ModelUnavailable
from sentiment.evaluation.metrics import Report, evaluate
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import LABELS
from sentiment.runtime.pooling import mean_pool
from sentiment.training.datasets import LabelledTexts, training_set
from sentiment.training.heads import class_weights

# peft's target modules, matched by name: the six linear layers of every block (query, key, value,
# the attention output, the feed-forward's two); the encoder has no pooler and no other dense layer.
TARGETS = ("query", "key", "value", "dense")


@dataclass
class FinetuneResult:
    adapter: dict[str, np.ndarray]  # "<module>.lora_a" / "<module>.lora_b", float32
    scale: float
    heads: dict[str, LinearHead]  # by task name
    epoch: int
    validation: list[list[Report]]  # per epoch, one report per validation file of every task, in order

    @property
    def head(self) -> LinearHead:
        """The sentiment head."""
        return self.heads["sentiment"]


def attach(model, rank: int, alpha: float):
    """The model with LoRA adapters on every target layer (peft), its own weights frozen; the model
    itself is adapted in place, so it keeps serving its scorer."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ModelUnavailable("fine-tuning needs peft; install it with: pip install 'ascolto[train]'") from None
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(TARGETS), lora_dropout=0.0, bias="none")
    return get_peft_model(model, config)


def lora_layers(adapted) -> dict:
    """The adapted layers by their name in the encoder (``encoder.layer.0.attention.self.query``)."""
    from peft.tuners.lora import LoraLayer

    return {name.removeprefix("base_model.model."): module for name, module in adapted.named_modules()
            if isinstance(module, LoraLayer)}


def adapter_arrays(adapted) -> dict[str, np.ndarray]:
    """The adapters' current matrices in Ascolto's format: ``<module>.lora_a`` [r, in] / ``.lora_b`` [out, r]."""
    arrays = {}
    for name, layer in lora_layers(adapted).items():
        arrays[f"{name}.lora_a"] = layer.lora_A["default"].weight.detach().numpy().copy()
        arrays[f"{name}.lora_b"] = layer.lora_B["default"].weight.detach().numpy().copy()
    return arrays


@dataclass(frozen=True)
class Task:
    """One head trained on the shared encoder: the sentiment head, or the unhappy-customer detector."""

    name: str  # "sentiment" or "detector"
    labels: tuple[str, ...]
    train: Sequence[LabelledTexts]
    val: Sequence[LabelledTexts]
    draws: Mapping[str, int] = field(default_factory=dict)  # texts drawn per epoch from a training file (by
    # name), with repeats when more than it holds; a file not named here is used whole, once per epoch
    weight: float = 1.0  # of this task's loss


def finetune(encoder, train: Sequence[LabelledTexts], val: Sequence[LabelledTexts], **options) -> FinetuneResult:
    """Adapters and a sentiment head on ``train``; the epoch with the best mean validation macro-F1."""
    return finetune_tasks(encoder, [Task("sentiment", LABELS, train, val)], **options)


def finetune_tasks(encoder, tasks: Sequence[Task], *, epochs: int = 4, rank: int = 8, alpha: float = 16,
                   lr: float = 5e-4, head_lr: float = 5e-3, batch_size: int = 32, seed: int = 0,
                   log: Callable[[str], None] = lambda line: None) -> FinetuneResult:
    """Train adapters and one head per task together (each batch mixes the tasks' texts); keep the
    epoch with the best mean macro-F1 over every validation file of every task."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pools = [_TaskPool(task, encoder, log) for task in tasks]
    model = encoder.encoder.model.train()
    adapted = attach(model, rank, alpha)
    heads = torch.nn.ModuleList(_zero_head(model.config.hidden_size, len(t.labels)) for t in tasks)
    optimiser = torch.optim.AdamW([{"params": [p for p in adapted.parameters() if p.requires_grad], "lr": lr},
                                   {"params": heads.parameters(), "lr": head_lr}], weight_decay=0.01)
    per_epoch = sum(pool.per_epoch for pool in pools)
    steps = epochs * math.ceil(per_epoch / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[lr, head_lr], total_steps=steps,
                                                   pct_start=0.1)
    best, history = None, []
    for epoch in range(1, epochs + 1):
        model.train()
        items = [item for index, pool in enumerate(pools) for item in pool.draw(index, rng)]
        loss = None
        for batch in length_buckets([len(ids) for _, ids, _ in items], batch_size, rng):
            loss = _step(model, heads, pools, [items[i] for i in batch], encoder.tokens, optimiser, schedule)
        model.eval()
        current = {t.name: LinearHead(h.weight.detach().numpy().copy(), h.bias.detach().numpy().copy(),
                                      {"prefix": encoder.tokens.prefix}, t.labels) for t, h in zip(tasks, heads)}
        reports = [_evaluate(encoder, current[t.name], t, data) for t in tasks for data in t.val]
        history.append(reports)
        score = float(np.mean([r.macro_f1 for r in reports]))
        log(f"epoch {epoch}: loss {loss:.3f}; " + ", ".join(f"{r.name} {r.macro_f1:.3f}" for r in reports))
        if best is None or score > best[0]:
            best = (score, epoch, adapter_arrays(adapted), current)
    _, epoch, adapter, chosen = best
    return FinetuneResult(adapter, alpha / rank, chosen, epoch, history)


class _TaskPool:
    """A task's training texts, tokenised once, and what one epoch draws from them."""

    def __init__(self, task: Task, encoder, log):
        train, dropped = training_set(list(task.train), list(task.val))
        if dropped:
            log(f"{task.name}: left out {dropped} training texts that are validation texts or repeats")
        self.task = task
        self.files = [(d.name, encoder.tokens.encode(d.texts), [task.labels.index(label) for label in d.labels])
                      for d in train]
        every = np.asarray([label for _, _, labels in self.files for label in labels])
        self.class_weights = class_weights(every, len(task.labels))
        self.per_epoch = sum(task.draws.get(name, len(ids)) for name, ids, _ in self.files)

    def draw(self, task_index: int, rng) -> list[tuple[int, list[int], int]]:
        items = []
        for name, ids, labels in self.files:
            count = self.task.draws.get(name, len(ids))
            chosen = np.concatenate([rng.permutation(len(ids)) for _ in range(count // len(ids))]
                                    + [rng.choice(len(ids), count % len(ids), replace=False)]).astype(int)
            items += [(task_index, ids[i], labels[i]) for i in chosen]
        return items


def length_buckets(lengths: Sequence[int], batch_size: int, rng, window: int = 50) -> list[list[int]]:
    """Shuffled batches of indices whose texts have similar lengths: padding is most of the work on a
    CPU when a batch mixes a tweet with a long review. Texts are shuffled, sorted by length within
    windows of ``window`` batches, cut into batches, and the batches shuffled again."""
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size * window):
        chunk = sorted(order[start:start + batch_size * window], key=lambda i: lengths[i])
        batches += [list(chunk[i:i + batch_size]) for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _zero_head(dim: int, classes: int):
    import torch

    head = torch.nn.Linear(dim, classes)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return head


def _step(model, heads, pools, batch, tokens, optimiser, schedule) -> float:
    """One optimiser step on a batch that may mix tasks: every text counts once, weighted by its
    class's weight and its task's weight."""
    import torch

    ids, mask = (torch.from_numpy(a) for a in tokens.padded([ids for _, ids, _ in batch]))
    pooled = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
    tasks = torch.as_tensor([t for t, _, _ in batch])
    labels = torch.as_tensor([label for _, _, label in batch])
    loss = pooled.new_zeros(())
    for index, (head, pool) in enumerate(zip(heads, pools)):
        rows = (tasks == index).nonzero().squeeze(1)
        if len(rows):
            weights = torch.as_tensor(pool.class_weights, dtype=torch.float32)[labels[rows]] * pool.task.weight
            per_text = torch.nn.functional.cross_entropy(head(pooled[rows]), labels[rows], reduction="none")
            loss = loss + (per_text * weights).sum() / len(batch)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    schedule.step()
    return loss.item()


def _evaluate(encoder, head: LinearHead, task: Task, data: LabelledTexts) -> Report:
    predicted = head.probabilities(encoder.embed(data.texts)).argmax(1)
    return evaluate(data.name, data.labels, [task.labels[i] for i in predicted], task.labels)
