"""Fine-tuning the offline encoder with LoRA adapters, so that the change commits in a few MB.

Every linear layer of the 12 transformer blocks gets a low-rank update ``W + (alpha / r) * B @ A``
(Hu et al., 2021), trained together with a new linear head on the head's usual input (the mean-
pooled, L2-normalised embedding). The 117 M base weights stay frozen; the adapters are ~0.7 M
numbers, saved in float16 beside the head. At load time they are merged into a copy of the encoder
folder in the cache, so torch and ONNX Runtime both run the adapted model at the base model's speed.
The epoch kept is the one with the best mean validation macro-F1; test files never enter here.

Several heads can train on one encoder at once (``Task``): the sentiment head and the unhappy-customer
detector share the adapters, so one pass of the encoder serves both at scoring time.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .datasets import LabelledTexts, training_set
from .head import LinearHead, class_weights
from .labels import LABELS
from .metrics import Report, evaluate

TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")


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


def _lora_module():
    import torch

    class LoRALinear(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear, rank: int, alpha: float):
            super().__init__()
            self.base = base
            self.lora_a = torch.nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))  # starts as the base model
            torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    return LoRALinear


def attach(model, rank: int, alpha: float) -> dict:
    """Wrap every target linear layer of the encoder in a LoRA layer; returns them by name."""
    import torch

    lora = _lora_module()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    wrapped = {}
    for name, module in list(model.named_modules()):
        if isinstance(module, torch.nn.Linear) and name.startswith("encoder.") and name.endswith(TARGETS):
            parent_name, _, child = name.rpartition(".")
            layer = lora(module, rank, alpha)
            setattr(model.get_submodule(parent_name), child, layer)
            wrapped[name] = layer
    return wrapped


def adapter_arrays(layers: dict) -> dict[str, np.ndarray]:
    """The LoRA layers' current matrices, copied out as numpy: ``<module>.lora_a`` / ``<module>.lora_b``."""
    return {f"{name}.{part}": getattr(layer, part).detach().numpy().copy()
            for name, layer in layers.items() for part in ("lora_a", "lora_b")}


def merge(model, adapter: dict[str, np.ndarray], scale: float) -> None:
    """Fold the adapters into the encoder's weights: afterwards it is a plain BertModel again."""
    import torch

    with torch.no_grad():
        for key in adapter:
            if key.endswith(".lora_a"):
                name = key.removesuffix(".lora_a")
                delta = torch.as_tensor(adapter[f"{name}.lora_b"], dtype=torch.float32) @ torch.as_tensor(
                    adapter[key], dtype=torch.float32)
                model.get_submodule(name).weight += scale * delta


def truncate(model, blocks: int) -> None:
    """Keep the encoder's first ``blocks`` transformer blocks: a shallower model, faster in proportion."""
    if not 0 < blocks <= len(model.encoder.layer):
        raise ValueError(f"blocks must be between 1 and {len(model.encoder.layer)}, got {blocks}")
    model.encoder.layer = model.encoder.layer[:blocks]
    model.config.num_hidden_layers = blocks


def save_adapter(path: Path, adapter: dict[str, np.ndarray], scale: float, blocks: int | None = None) -> None:
    """float16 safetensors; ``blocks`` records that the adapter belongs to the base cut to that many blocks."""
    from safetensors.numpy import save_file

    metadata = {"scale": repr(scale)} | ({"blocks": str(blocks)} if blocks else {})
    save_file({k: v.astype(np.float16) for k, v in adapter.items()}, str(path), metadata=metadata)


def load_adapter(path: Path) -> tuple[dict[str, np.ndarray], float]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        scale = float(handle.metadata()["scale"])
        return {k: handle.get_tensor(k).astype(np.float32) for k in handle.keys()}, scale


def adapter_blocks(path: Path) -> int | None:
    """How many blocks of the base the adapter keeps (None: all of them)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        blocks = handle.metadata().get("blocks")
    return int(blocks) if blocks else None


def adapted_folder(base: Path, adapter_file: Path) -> Path:
    """A cached copy of the encoder folder with the adapter merged in (built once per adapter), cut to
    the adapter's blocks where it records them."""
    from .models import load_transformers

    _torch, transformers = load_transformers()  # also quiets the progress bars
    digest = hashlib.sha256(Path(adapter_file).read_bytes()).hexdigest()[:12]
    folder = base.parent / f"{base.name}+{Path(adapter_file).stem}-{digest}"
    if (folder / "config.json").is_file():
        return folder
    staging = folder.with_name(folder.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    model = transformers.AutoModel.from_pretrained(str(base), add_pooling_layer=False)
    if blocks := adapter_blocks(adapter_file):
        truncate(model, blocks)
    merge(model, *load_adapter(adapter_file))
    model.save_pretrained(staging)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(base / name, staging / name)
    staging.rename(folder)
    return folder


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
    model = encoder.encoder.train()
    layers = attach(model, rank, alpha)
    heads = torch.nn.ModuleList(_zero_head(model.config.hidden_size, len(t.labels)) for t in tasks)
    optimiser = torch.optim.AdamW([{"params": [p for l in layers.values() for p in (l.lora_a, l.lora_b)], "lr": lr},
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
            loss = _step(model, heads, pools, [items[i] for i in batch], encoder.tokenizer, optimiser, schedule)
        model.eval()
        current = {t.name: LinearHead(h.weight.detach().numpy().copy(), h.bias.detach().numpy().copy(),
                                      {"prefix": encoder.prefix}, t.labels) for t, h in zip(tasks, heads)}
        reports = [_evaluate(encoder, current[t.name], t, data) for t in tasks for data in t.val]
        history.append(reports)
        score = float(np.mean([r.macro_f1 for r in reports]))
        log(f"epoch {epoch}: loss {loss:.3f}; " + ", ".join(f"{r.name} {r.macro_f1:.3f}" for r in reports))
        if best is None or score > best[0]:
            best = (score, epoch, adapter_arrays(layers), current)
    _, epoch, adapter, chosen = best
    return FinetuneResult(adapter, alpha / rank, chosen, epoch, history)


class _TaskPool:
    """A task's training texts, tokenised once, and what one epoch draws from them."""

    def __init__(self, task: Task, encoder, log):
        train, dropped = training_set(list(task.train), list(task.val))
        if dropped:
            log(f"{task.name}: left out {dropped} training texts that are validation texts or repeats")
        self.task = task
        self.files = [(d.name, encoder.encode(d.texts), [task.labels.index(label) for label in d.labels])
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


def _step(model, heads, pools, batch, tokenizer, optimiser, schedule) -> float:
    """One optimiser step on a batch that may mix tasks: every text counts once, weighted by its
    class's weight and its task's weight."""
    import torch

    inputs = tokenizer.pad({"input_ids": [ids for _, ids, _ in batch]}, return_tensors="pt")
    hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
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
