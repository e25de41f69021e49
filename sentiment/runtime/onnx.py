"""The encoder on ONNX Runtime: float32 (the same scores as torch, faster on our 2-core hosts) or int8
(weights quantised ahead of time; see ``sentiment.building.onnx_export``). The ONNX file is built
from the encoder's folder on first use and cached beside it; onnxruntime comes with the ``onnx``
extra, and without it ``load_scorer`` falls back to torch and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentiment.building.onnx_export import onnx_model, require_onnx

from .encoders import cpu_threads


class OnnxEncoder:
    def __init__(self, source: str | Path, runtime: str = "onnx", threads: int | None = None,
                 float_matmuls: Sequence[str] = ()):
        require_onnx()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        self.session = onnxruntime.InferenceSession(str(onnx_model(Path(source), runtime, float_matmuls)), options,
                                                    providers=["CPUExecutionProvider"])

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
