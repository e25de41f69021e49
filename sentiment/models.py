"""Transformer scorers: a sequence-classification model, or an encoder with a linear head.

Both tokenise once, run length-sorted batches with dynamic padding, and treat blank texts without
calling the model. torch and transformers are imported here only, so importing ``sentiment``
elsewhere stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .batching import run_in_sorted_batches
from .errors import ModelUnavailable
from .head import LinearHead
from .labels import LABELS, map_model_labels
from .scores import BLANK, Score

DEFAULT_BATCH_SIZE = 32
# Mentions are short; 128 tokens keeps a long forum post's opening, which usually carries its tone.
DEFAULT_MAX_LENGTH = 128


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


def _from_pretrained(loader, source: str, **kwargs):
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(
            f"cannot load model {source!r}: {first_line} (a hub id needs network access; "
            "a local folder needs config.json and weights; 'offline' needs no network)"
        ) from None


class TransformerScorer:
    """Shared tokenising and batching; subclasses turn a padded batch into [n, 3] probabilities."""

    def __init__(self, name: str, tokenizer, *, prefix: str = "", batch_size: int, max_length: int):
        self.name = name
        self.tokenizer = tokenizer
        self.prefix = prefix
        self.batch_size = batch_size
        self.max_length = max_length

    def score(self, texts: Sequence[str]) -> list[Score]:
        scores: list[Score] = [BLANK] * len(texts)
        live = [i for i, text in enumerate(texts) if text and text.strip()]
        if live:
            for i, probs in zip(live, self.probabilities([texts[i] for i in live]), strict=True):
                scores[i] = Score.from_probabilities(probs)
        return scores

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        rows = run_in_sorted_batches(self.encode(texts), self.batch_size, self._batch_outputs)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        prefixed = [self.prefix + " ".join(text.split()) for text in texts]
        return self.tokenizer(prefixed, truncation=True, max_length=self.max_length)["input_ids"]

    def _padded(self, batch: list[list[int]]):
        return self.tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="pt")

    def _batch_outputs(self, batch: list[list[int]]):
        raise NotImplementedError


class ClassifierScorer(TransformerScorer):
    """Any ``AutoModelForSequenceClassification`` with negative/neutral/positive-like labels."""

    def __init__(self, source: str, *, label_map: Mapping[str, str] | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = DEFAULT_MAX_LENGTH):
        torch, tf = load_transformers()
        tokenizer = _from_pretrained(tf.AutoTokenizer, source)
        self.model = _from_pretrained(tf.AutoModelForSequenceClassification, source).eval()
        labels = map_model_labels(self.model.config.id2label, label_map)
        # Column j of the model's softmax goes to column `columns[j]` of ours.
        self.columns = [LABELS.index(label) for label in labels]
        super().__init__(source, tokenizer, batch_size=batch_size, max_length=max_length)

    def _batch_outputs(self, batch):
        import torch

        with torch.inference_mode():
            logits = self.model(**self._padded(batch)).logits
        probs = torch.softmax(logits.float(), dim=-1).numpy()
        ours = np.zeros((len(batch), len(LABELS)), dtype=np.float32)
        ours[:, self.columns] = probs
        return list(ours)


class EncoderHeadScorer(TransformerScorer):
    """A sentence encoder (mean pooling, L2-normalised) followed by a linear softmax head, and by the
    unhappy-customer detector's head where the model has one (the same embedding feeds both)."""

    detector = None

    def __init__(self, source: str | Path, head: LinearHead, *, name: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = DEFAULT_MAX_LENGTH, detector=None):
        torch, tf = load_transformers()
        tokenizer = _from_pretrained(tf.AutoTokenizer, str(source))
        self.encoder = _from_pretrained(tf.AutoModel, str(source), add_pooling_layer=False).eval()
        self.head = head
        self.detector = detector
        prefix = head.info.get("prefix", "query: ")
        super().__init__(name or str(source), tokenizer, prefix=prefix, batch_size=batch_size,
                         max_length=max_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = run_in_sorted_batches(self.encode(texts), self.batch_size, self._embed_batch)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def _embed_batch(self, batch):
        import torch

        inputs = self._padded(batch)
        with torch.inference_mode():
            hidden = self.encoder(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return list(torch.nn.functional.normalize(pooled, dim=-1).numpy())

    @property
    def _width(self) -> int:
        """Probability columns: negative, neutral, positive, and unhappy with a detector."""
        return len(LABELS) + (self.detector is not None)

    def score(self, texts: Sequence[str]) -> list[Score]:
        """Scores that carry their embedding (see ``Score.embedding``)."""
        scores: list[Score] = [BLANK] * len(texts)
        live = [i for i, text in enumerate(texts) if text and text.strip()]
        if live:
            rows = super().probabilities([texts[i] for i in live])
            for i, row in zip(live, rows, strict=True):
                scores[i] = Score.from_probabilities(row[:self._width], embedding=row[self._width:])
        return scores

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return super().probabilities(texts)[:, :self._width]

    def _batch_outputs(self, batch):
        # one row per text: its probabilities, then its embedding (score() splits them)
        embeddings = np.asarray(self._embed_batch(batch))
        probabilities = self.head.probabilities(embeddings)
        if self.detector is not None:
            from .detector import raw_probability

            probabilities = np.column_stack([probabilities, raw_probability(self.detector.head, embeddings)])
        return list(np.column_stack([probabilities, embeddings]))
