"""Building an encoder's ONNX files: float32 (the same scores as torch, 1.1-2.0x its speed on our
2-core hosts), or int8 (``sentiment.building.int8``: per-token activations, smoothed outliers).

The encoder is exported once from its transformers folder to ONNX and cached beside the folder, and
the int8 file is built from the float32 one on first use; a model's head file may name MatMuls to
keep in float32 (``int8_float_matmuls``). onnxruntime and onnx come with the ``onnx`` extra.
``sentiment.runtime.onnx`` runs the files.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

from sentiment.errors import ModelUnavailable

from .int8 import int8_file, quantize_int8, weight_bits
from .staging import build_atomically

log = logging.getLogger(__name__)

FLOAT_FILE = "encoder.fp32.onnx"


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(f"ONNX runtime not installed ({exc.name}); install it with: "
                               "pip install 'ascolto[onnx]'") from None


def onnx_model(encoder_dir: Path, runtime: str, float_matmuls: Sequence[str] = ()) -> Path:
    """The ONNX file of a transformers folder for ``runtime``, exported (and quantised) on first use;
    ``float_matmuls``: MatMuls the int8 file keeps in float32."""
    folder = Path(encoder_dir) / "onnx"
    bits = weight_bits() if runtime == "onnx-int8" else None  # int8's weights by this CPU (int8.py)
    target = folder / (FLOAT_FILE if bits is None else int8_file(float_matmuls, bits))
    if not target.is_file():
        float_file = folder / FLOAT_FILE
        # Said once, at INFO on this logger (the CLI shows it): the first run pauses here.
        log.info("building the %s model once (about a minute); later runs load it in seconds", runtime)
        if not float_file.is_file():
            build_atomically(float_file, lambda staged: export_float(Path(encoder_dir), staged))
        if bits is not None:
            build_atomically(target, lambda staged: quantize_int8(float_file, staged, Path(encoder_dir), float_matmuls, bits))
    return target


def export_float(encoder_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    require_onnx()
    model = _LastHiddenState(AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False).eval())
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    # The tracer warns about Python branches in the model ("will produce incorrect results" for other
    # shapes): the exported graph is checked against torch by the tests; a user need not read them.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


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
