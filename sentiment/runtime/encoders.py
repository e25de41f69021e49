"""Encoder backends: token ids in, token states out. torch (any ``transformers`` encoder folder) here;
ONNX Runtime in ``sentiment.runtime.onnx``. Scorers pool and run the heads the same way whichever
backend runs the encoder (``sentiment.runtime.scorers``).

torch and transformers are imported here and in the backends only, so importing ``sentiment``
elsewhere stays cheap.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np

from sentiment.errors import ModelUnavailable


@runtime_checkable
class Encoder(Protocol):
    """A backend: ``[batch, tokens]`` int64 ids and attention mask in, ``[batch, tokens, dim]`` out."""

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def cpu_threads() -> int:
    """The cores this process may use (its CPU affinity, as a container or ``taskset`` sets it), not
    the machine's: intra-op threads beyond them only contend."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_transformers():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelUnavailable(
            f"the model stack is not installed ({exc.name}); install it with: pip install torch transformers"
        ) from None
    # Progress bars and load reports are noise in a CLI and in a scheduler's log.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def from_pretrained(loader, source: str, **kwargs):
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(
            f"cannot load model {source!r}: {first_line} (a hub id needs network access; "
            "a local folder needs config.json and weights; 'offline' needs no network)"
        ) from None


def load_tokenizer(source: str):
    _torch, transformers = load_transformers()
    return from_pretrained(transformers.AutoTokenizer, str(source))


class TorchEncoder:
    """A ``transformers`` encoder (``AutoModel``) on torch; ``model`` is the module (training adapts it)."""

    def __init__(self, source, threads: int | None = None):
        torch, transformers = load_transformers()
        torch.set_num_threads(threads or cpu_threads())
        self.model = from_pretrained(transformers.AutoModel, str(source), add_pooling_layer=False).eval()

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
                              ).last_hidden_state.numpy()
