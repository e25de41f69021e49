"""A shallower, faster student of the offline default: its first N transformer blocks, adapted again.

The encoder's cost is in proportion to its blocks, so the first 6 of 12 run about twice as fast.
Cutting the top blocks of a fine-tuned encoder and training again is the cheapest kind of
distillation (Sajjad et al., "On the effect of dropping layers of pre-trained transformer models",
2023, found the top blocks the ones to drop); a second round of LoRA adapters on the kept blocks
brings the validation figures back. Held out, our 6-block student still lost 10 points in Italian,
so none is committed (model card): a brand that trains one should check it with ``ascolto eval``.
Soft targets from the full model gave nothing more on validation, so the student learns from the
labels alone.

The saved adapter is the default's adapters for the kept blocks stacked with the new ones, a single
LoRA of the two ranks added, so the student builds from the same base weights as the default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .finetune import load_adapter, truncate


def student_encoder(blocks: int, cache_dir: Path | None = None):
    """The offline default's adapted encoder cut to its first ``blocks`` blocks, with a blank head."""
    from .e5_folder import e5_folder
    from .head import LinearHead, blank_head
    from .loading import DEFAULT_HEAD, encoder_folder
    from .models import EncoderHeadScorer

    folder = encoder_folder(e5_folder(cache_dir), LinearHead.load(DEFAULT_HEAD), DEFAULT_HEAD)
    scorer = EncoderHeadScorer(folder, blank_head(), name=f"offline:e5-small-{blocks}")
    truncate(scorer.encoder, blocks)
    return scorer


def stack(*adapters: tuple[dict[str, np.ndarray], float]) -> dict[str, np.ndarray]:
    """Several LoRA adapters as one of scale 1: s1 B1 A1 + s2 B2 A2 = [s1 B1, s2 B2] [A1; A2].

    Only the modules of the last adapter are kept: the student's, whose blocks are the kept ones.
    """
    modules = [key.removesuffix(".lora_a") for key in adapters[-1][0] if key.endswith(".lora_a")]
    stacked = {}
    for name in modules:
        parts = [(a, s) for a, s in adapters if f"{name}.lora_a" in a]
        stacked[f"{name}.lora_a"] = np.concatenate([a[f"{name}.lora_a"] for a, _ in parts], axis=0)
        stacked[f"{name}.lora_b"] = np.concatenate([s * a[f"{name}.lora_b"] for a, s in parts], axis=1)
    return stacked


def student_adapter(trained: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """The student's adapters with the default's for the same modules in front: scale 1."""
    from .head import LinearHead
    from .loading import DEFAULT_HEAD

    teacher = DEFAULT_HEAD.parent / LinearHead.load(DEFAULT_HEAD).info["adapter"]
    return stack(load_adapter(teacher), (trained, scale))
