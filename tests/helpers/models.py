"""Models for tests: a keyword stand-in, tiny transformers built on the spot, the real offline model."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "great", "love", "bad", "awful", "hate", "ok", "the", "it",
         "ottimo", "pessimo", "servizio", "is", "was", "not"]


class KeywordScorer:
    """A stand-in for the model in pipeline tests, where what matters is what happens to a score. It
    keeps the scoring protocol: no detector, no heads to retrain, no embeddings (``[n, 0]``)."""

    name = "test:keywords"
    detector = None
    heads = None
    NEGATIVE = ("pessimo", "vergognoso", "joke", "worst", "rotto", "never")
    POSITIVE = ("adoro", "love", "great", "ottimo")

    def __init__(self):
        self.calls = []

    def score(self, texts):
        from sentiment.scoring import Score

        self.calls.append(list(texts))
        out = []
        for text in texts:
            low = text.lower()
            if any(w in low for w in self.NEGATIVE):
                out.append(Score("negative", 0.9, 0.9, 0.07, 0.03))
            elif any(w in low for w in self.POSITIVE):
                out.append(Score("positive", 0.8, 0.05, 0.15, 0.8))
            else:
                out.append(Score("neutral", 0.7, 0.15, 0.7, 0.15))
        return out

    def embed(self, texts):
        import numpy as np

        return np.zeros((len(texts), 0), dtype=np.float32)


def build_tiny_tokenizer(folder: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", model_max_length=64)
    fast.save_pretrained(folder)
    return fast


def tiny_bert_config(**extra):
    from transformers import BertConfig

    return BertConfig(vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=64, pad_token_id=0, **extra)


def blank_scorer(folder):
    """The tiny encoder (hidden size 16) on torch with a blank head and no prefix: a host for adapters."""
    from sentiment.runtime.loading import blank_encoder

    return blank_encoder(folder, prefix="")


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory) -> Path:
    """A 3-class BERT classifier with LABEL_n names (as many hub models have), random weights."""
    import torch
    from transformers import BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-classifier")
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=3))
    model.save_pretrained(folder)
    build_tiny_tokenizer(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("tiny-encoder")
    torch.manual_seed(1)
    BertModel(tiny_bert_config(), add_pooling_layer=False).save_pretrained(folder)
    build_tiny_tokenizer(folder)
    return folder


@pytest.fixture(scope="session")
def offline_scorer():
    """The real offline default (e5-small + committed head), built into the user's cache once."""
    from sentiment.runtime.loading import ModelSettings, load_scorer

    return load_scorer(ModelSettings(name="offline"))


def tiny_head_file(folder: Path, detector_weight=None) -> Path:
    """A model file for the tiny encoder: a zero sentiment head and a detector head (zero unless
    given), calibrated as is, every preset at 0.5 in both languages."""
    import numpy as np

    from sentiment.runtime.detector import PRESETS, Detector
    from sentiment.runtime.heads import LinearHead
    from sentiment.runtime.labels import UNHAPPY_LABELS

    weight = np.zeros((2, 16), "float32") if detector_weight is None else np.asarray(detector_weight, "float32")
    detector = Detector(LinearHead(weight, np.zeros(2, "float32"), {}, UNHAPPY_LABELS),
                        {"it": (1.0, 0.0), "en": (1.0, 0.0)}, {p: {"it": 0.5, "en": 0.5} for p in PRESETS})
    path = folder / "tiny-head.json"
    LinearHead(np.zeros((3, 16), "float32"), np.zeros(3, "float32"), {"prefix": ""}).save(
        path, extra={"detector": detector.to_dict()})
    return path


class BagOfWordsScorer(KeywordScorer):
    """KeywordScorer whose scores carry an embedding: a unit bag-of-words vector (hashed words of
    four letters or more, cut to five letters, so "consegna" and "consegnato" meet). Similar words
    give similar embeddings, which is what theme matching needs from a model's embeddings."""

    name = "test:bag-of-words"
    DIMENSIONS = 256

    def score(self, texts):
        import dataclasses

        return [dataclasses.replace(score, embedding=vector) for score, vector in zip(super().score(texts),
                                                                                     self.embed(texts))]

    def embed(self, texts):
        import hashlib
        import re

        import numpy as np

        vectors = np.zeros((len(texts), self.DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[^\W\d_]{4,}", text.casefold()):
                vectors[row, int(hashlib.md5(word[:5].encode()).hexdigest(), 16) % self.DIMENSIONS] += 1
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
