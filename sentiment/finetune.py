"""Fine-tuning the offline encoder with LoRA adapters, so that the change commits in a few MB.

Every linear layer of the 12 transformer blocks gets a low-rank update ``W + (alpha / r) * B @ A``
(Hu et al., 2021), trained together with a new linear head on the head's usual input (the mean-
pooled, L2-normalised embedding). The 117 M base weights stay frozen; the adapters are ~0.7 M
numbers, saved in float16 beside the head. At load time they are merged into a copy of the encoder
folder in the cache, so torch and ONNX Runtime both run the adapted model at the base model's speed.
The epoch kept is the one with the best mean validation macro-F1; test files never enter here.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    head: LinearHead
    epoch: int
    validation: list[list[Report]]  # per epoch, one report per validation file


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


def finetune(encoder, train: Sequence[LabelledTexts], val: Sequence[LabelledTexts], *, epochs: int = 4,
             rank: int = 8, alpha: float = 16, lr: float = 5e-4, head_lr: float = 5e-3, batch_size: int = 32,
             seed: int = 0, log: Callable[[str], None] = lambda line: None) -> FinetuneResult:
    """Train adapters and a head on ``train``; keep the epoch with the best mean validation macro-F1."""
    import torch

    train, dropped = training_set(list(train), list(val))
    if dropped:
        log(f"left out {dropped} training texts that are validation texts or repeats")

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = encoder.encoder.train()
    layers = attach(model, rank, alpha)
    head = torch.nn.Linear(model.config.hidden_size, len(LABELS))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimiser = torch.optim.AdamW([{"params": [p for l in layers.values() for p in (l.lora_a, l.lora_b)], "lr": lr},
                                   {"params": head.parameters(), "lr": head_lr}], weight_decay=0.01)
    texts = [t for d in train for t in d.texts]
    labels = torch.as_tensor([LABELS.index(label) for d in train for label in d.labels])
    weights = torch.as_tensor(class_weights(labels.numpy()), dtype=torch.float32)
    encoded = encoder.encode(texts)
    steps = epochs * math.ceil(len(texts) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[lr, head_lr], total_steps=steps,
                                                   pct_start=0.1)
    best, history = None, []
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(texts))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = encoder.tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
            loss = torch.nn.functional.cross_entropy(head(pooled), labels[batch], weight=weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
        current = LinearHead(head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy(),
                             {"prefix": encoder.prefix})
        reports = [evaluate(d.name, d.labels, [LABELS[i] for i in current.probabilities(encoder.embed(d.texts))
                                               .argmax(1)]) for d in val]
        history.append(reports)
        score = float(np.mean([r.macro_f1 for r in reports]))
        log(f"epoch {epoch}: loss {loss.item():.3f}; " + ", ".join(f"{r.name} {r.macro_f1:.3f}" for r in reports))
        if best is None or score > best[0]:
            best = (score, epoch, adapter_arrays(layers), current)
    _, epoch, adapter, chosen = best
    return FinetuneResult(adapter, alpha / rank, chosen, epoch, history)
