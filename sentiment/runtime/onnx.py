"""The encoder on ONNX Runtime: float32 (the same scores as torch, faster on our 2-core hosts) or int8
(``sentiment.building.int8``). The ONNX file is built from the encoder's folder on first use and
cached beside it (``sentiment.building.onnx_export``); onnxruntime comes with the ``onnx`` extra, and
without it ``load_scorer`` falls back to torch and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentiment.building.onnx_export import onnx_model, require_onnx

from .encoders import cpu_threads


class OnnxEncoder:
    """Runs one ONNX file of an encoder (``of_folder`` builds it from a transformers folder first)."""

    def __init__(self, file: Path, threads: int | None = None):
        require_onnx()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        self.session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])

    @classmethod
    def of_folder(cls, source: str | Path, runtime: str = "onnx", threads: int | None = None,
                  float_matmuls: Sequence[str] = ()) -> OnnxEncoder:
        require_onnx()
        return cls(onnx_model(Path(source), runtime, float_matmuls), threads)

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
