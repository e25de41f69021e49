"""The scorers of the ``Scorer`` protocol that run in this process.

- ``EncoderScorer``: a sentence encoder (any backend: torch, ONNX Runtime float32 or int8), mean
  pooled (``sentiment.runtime.pooling``), then the linear heads: sentiment, and the unhappy-customer
  detector where the model has one. One pass of the encoder gives the probabilities, the detector's
  raw probability and the embedding (for themes).
- ``ClassifierScorer``: any ``AutoModelForSequenceClassification`` with negative/neutral/positive-like
  labels (a hub model); its embedding is the mean of its last layer's token states.

Both tokenise once, run length-sorted batches with dynamic padding, and treat blank texts without
calling the model (``sentiment.scoring.blank_aware``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sentiment.runtime.model_file import Heads
from sentiment.scoring import Score, blank_aware

from .batching import run_in_sorted_batches
from .detector import BASE_KIND, Detector, raw_by_kind
from .encoders import Encoder, from_pretrained, load_transformers
from .heads import LinearHead
from .labels import LABELS, map_model_labels
from .pooling import mean_pool

DEFAULT_BATCH_SIZE = 32
# Mentions are short; 128 tokens keeps a long forum post's opening, which usually carries its tone.
DEFAULT_MAX_LENGTH = 128


class Tokens:
    """Texts to token ids (with the model's prefix, e.g. e5's "query: "), and padded batches of them."""

    def __init__(self, tokenizer, prefix: str = "", max_length: int = DEFAULT_MAX_LENGTH):
        self.tokenizer, self.prefix, self.max_length = tokenizer, prefix, max_length

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        prefixed = [self.prefix + " ".join(text.split()) for text in texts]
        return self.tokenizer(prefixed, truncation=True, max_length=self.max_length)["input_ids"]

    def padded(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        arrays = self.tokenizer.pad({"input_ids": batch}, padding=True, return_tensors="np")
        return arrays["input_ids"].astype(np.int64), arrays["attention_mask"].astype(np.int64)


class EncoderScorer:
    """A sentence encoder followed by linear heads (see the module docstring)."""

    def __init__(self, name: str, tokens: Tokens, encoder: Encoder, heads: Heads, *,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        self.name, self.tokens, self.encoder, self.heads = name, tokens, encoder, heads
        self.batch_size = batch_size

    @property
    def detector(self) -> Detector | None:
        return self.heads.detector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = run_in_sorted_batches(self.tokens.encode(texts), self.batch_size, self._embed_batch)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    def score(self, texts: Sequence[str]) -> list[Score]:
        """Scores that carry their embedding (see ``Score.embedding``)."""
        return blank_aware(texts, self._score_live)

    def _score_live(self, texts: Sequence[str]) -> list[Score]:
        embeddings = self.embed(texts)
        return scores_from(embeddings, self.heads.sentiment, self.detector)

    def _embed_batch(self, batch: list[list[int]]) -> list[np.ndarray]:
        ids, mask = self.tokens.padded(batch)
        return list(mean_pool(self.encoder.hidden_states(ids, mask), mask))


def scores_from(embeddings: np.ndarray, sentiment: LinearHead, detector: Detector | None,
                keep_embeddings: bool = True) -> list[Score]:
    """The heads' scores of texts already embedded: sentiment, and every raw P(unhappy) of the detector
    (its posts' head and each kind's own, see ``Score.kind_unhappy``)."""
    probabilities = sentiment.probabilities(embeddings)
    raws = raw_by_kind(detector, embeddings) if detector is not None else {}
    base = raws.pop(BASE_KIND, None)
    return [Score.from_probabilities([*p, *([] if base is None else [base[i]])],
                                     embedding=embeddings[i] if keep_embeddings else None,
                                     kind_unhappy=[(kind, raw[i]) for kind, raw in raws.items()])
            for i, p in enumerate(probabilities)]


class ClassifierScorer:
    """A sequence-classification model (see the module docstring); no heads to retrain, no detector."""

    detector = None
    heads = None

    def __init__(self, source: str, *, label_map: Mapping[str, str] | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = DEFAULT_MAX_LENGTH):
        _torch, transformers = load_transformers()
        self.name, self.batch_size = source, batch_size
        self.tokens = Tokens(from_pretrained(transformers.AutoTokenizer, source), max_length=max_length)
        self.model = from_pretrained(transformers.AutoModelForSequenceClassification, source).eval()
        labels = map_model_labels(self.model.config.id2label, label_map)
        # Column j of the model's softmax goes to column `columns[j]` of ours.
        self.columns = [LABELS.index(label) for label in labels]

    def score(self, texts: Sequence[str]) -> list[Score]:
        return blank_aware(texts, lambda live: [Score.from_probabilities(row[:len(LABELS)], row[len(LABELS):])
                                                for row in self._rows(live)])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._rows(texts), dtype=np.float32).reshape(len(texts), -1)[:, len(LABELS):]

    def _rows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One row per text: our three probabilities, then its embedding."""
        return run_in_sorted_batches(self.tokens.encode(texts), self.batch_size, self._batch)

    def _batch(self, batch: list[list[int]]) -> list[np.ndarray]:
        import torch

        ids, mask = self.tokens.padded(batch)
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             output_hidden_states=True)
        probs = torch.softmax(out.logits.float(), dim=-1).numpy()
        ours = np.zeros((len(batch), len(LABELS)), dtype=np.float32)
        ours[:, self.columns] = probs
        return list(np.column_stack([ours, mean_pool(out.hidden_states[-1].float().numpy(), mask)]))
