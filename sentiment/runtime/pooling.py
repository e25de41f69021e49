"""The one pooling of the offline encoder's token states into a sentence embedding, for every
backend (torch, ONNX Runtime) and for training: the mean over real tokens, L2-normalised.

It takes numpy arrays or torch tensors alike (training needs its gradient); a text of only padding
(none in practice) divides by one, not zero.
"""

from __future__ import annotations


def mean_pool(hidden, mask):
    """``hidden`` [batch, tokens, dim] and ``mask`` [batch, tokens] (1 for a real token) -> [batch, dim]."""
    if hasattr(hidden, "detach"):  # torch
        import torch

        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1)
    import numpy as np

    weights = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)
