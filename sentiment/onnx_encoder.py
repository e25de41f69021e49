"""An encoder on ONNX Runtime: in float32 (the same scores as torch, about 1.8x faster on 2 cores),
or with int8 dynamic quantisation (about 4x faster, at a cost in accuracy: see the benchmark).

The encoder is exported once from its transformers folder to ONNX and cached beside the folder; the
int8 file quantises the matrix multiplications' weights per output channel, ahead of time, and the
activations on the fly. Tokenising, length-sorted batching, mean pooling and the head are the same
as with torch. onnxruntime and onnx come with the ``onnx`` extra; where they are missing,
``load_scorer`` falls back to torch and says why.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import ModelUnavailable
from .models import EncoderHeadScorer

FILES = {"onnx": "encoder.fp32.onnx", "onnx-int8": "encoder.int8.onnx"}


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(f"ONNX runtime not installed ({exc.name}); install it with: "
                               "pip install 'ascolto[onnx]'") from None


def onnx_model(encoder_dir: Path, runtime: str) -> Path:
    """The ONNX file of a transformers folder for ``runtime``, exported (and quantised) on first use."""
    folder = Path(encoder_dir) / "onnx"
    target = folder / FILES[runtime]
    if not target.is_file():
        float_file = folder / FILES["onnx"]
        if not float_file.is_file():
            _atomically(float_file, lambda staged: export_float(Path(encoder_dir), staged))
        if runtime == "onnx-int8":
            _atomically(target, lambda staged: quantize_int8(float_file, staged))
    return target


def _atomically(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=target.parent))
    try:
        write(staging / target.name)
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_float(encoder_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    require_onnx()
    model = _LastHiddenState(AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False).eval())
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode():
        torch.onnx.export(model, example, str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def quantize_int8(float_file: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights and MatMul only (the embedding table stays float): in our trials the
    # per-tensor default lost 6-7 points of Italian macro-F1, this 2-4 (see the README's Performance).
    quantize_dynamic(str(float_file), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


def _LastHiddenState(model):
    """The encoder with keyword inputs and one tensor out, as the exporter wants it."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Wrapper()


class OnnxEncoderHeadScorer(EncoderHeadScorer):
    """EncoderHeadScorer whose encoder runs on ONNX Runtime; the torch model is never loaded."""

    def __init__(self, source: str | Path, head, *, name: str | None = None, batch_size: int, max_length: int,
                 runtime: str = "onnx", threads: int | None = None):
        import onnxruntime
        from transformers import AutoTokenizer

        require_onnx()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self.session = onnxruntime.InferenceSession(str(onnx_model(Path(source), runtime)), options,
                                                    providers=["CPUExecutionProvider"])
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        self.head = head
        # Skip EncoderHeadScorer.__init__: it would load the torch encoder this class replaces.
        super(EncoderHeadScorer, self).__init__(name or f"{source}:{runtime}", tokenizer,
                                                prefix=head.info.get("prefix", "query: "),
                                                batch_size=batch_size, max_length=max_length)

    def _embed_batch(self, batch):
        padded = self.tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="np")
        ids, mask = padded["input_ids"].astype(np.int64), padded["attention_mask"].astype(np.int64)
        hidden = self.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
        return list(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
