"""LoRA adapters as Ascolto ships them, and the adapted encoder folder built from them.

An adapter file is float16 safetensors holding, per adapted linear layer, ``<module>.lora_a`` [r, in]
and ``<module>.lora_b`` [out, r], with the scale (alpha / r) in its metadata: the change a
fine-tuning made, a few MB. At load time the adapters are merged into a copy of the encoder folder
(W + scale * B @ A) in the cache, once per adapter file, so torch and ONNX Runtime both run the
adapted model at the base model's speed, with no LoRA code (nor peft) at run time.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from .staging import build_atomically


def save_adapter(path: Path, adapter: dict[str, np.ndarray], scale: float) -> None:
    from safetensors.numpy import save_file

    save_file({k: v.astype(np.float16) for k, v in adapter.items()}, str(path), metadata={"scale": repr(scale)})


def load_adapter(path: Path) -> tuple[dict[str, np.ndarray], float]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        scale = float(handle.metadata()["scale"])
        return {k: handle.get_tensor(k).astype(np.float32) for k in handle.keys()}, scale


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


def adapted_folder(base: Path, adapter_file: Path) -> Path:
    """A cached copy of the encoder folder with the adapter merged in (built once per adapter)."""
    from sentiment.runtime.encoders import load_transformers

    digest = hashlib.sha256(Path(adapter_file).read_bytes()).hexdigest()[:12]
    folder = base.parent / f"{base.name}+{Path(adapter_file).stem}-{digest}"
    if (folder / "config.json").is_file():
        return folder

    def build(staging: Path) -> None:
        _torch, transformers = load_transformers()  # also quiets the progress bars
        model = transformers.AutoModel.from_pretrained(str(base), add_pooling_layer=False)
        merge(model, *load_adapter(adapter_file))
        model.save_pretrained(staging)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(base / name, staging / name)

    return build_atomically(folder, build)
