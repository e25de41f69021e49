"""Shared fixtures: a tiny transformer built on the spot, a loopback SMTP server, a fixed clock."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLE_CONFIG = REPO / "config" / "ascolto.example.toml"
FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """A clock the test moves by hand: no sleeps, no real time."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        from email import message_from_bytes, policy

        return [message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server():
    """Start a real SMTP server on loopback; ``start(port)`` lets a test bring it up late."""
    from aiosmtpd.controller import Controller

    controllers = []

    def start(port: int | None = None, handler: Inbox | None = None):
        inbox = handler or Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        controllers.append(controller)
        return controller, inbox

    yield start
    for controller in controllers:
        controller.stop()


WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "great", "love", "bad", "awful", "hate", "ok", "the", "it",
         "ottimo", "pessimo", "servizio", "is", "was", "not"]


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
    """The tiny encoder (hidden size 16) with a zero head and no prefix: a host for adapters."""
    import numpy as np

    from sentiment.head import LinearHead
    from sentiment.models import EncoderHeadScorer

    return EncoderHeadScorer(folder, LinearHead(np.zeros((3, 16), "float32"), np.zeros(3, "float32"), {"prefix": ""}))


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
    from sentiment.loading import ModelSettings, load_scorer

    return load_scorer(ModelSettings(name="offline"))


class KeywordScorer:
    """A stand-in for the model in pipeline tests, where what matters is what happens to a score."""

    name = "test:keywords"
    NEGATIVE = ("pessimo", "vergognoso", "joke", "worst", "rotto", "never")
    POSITIVE = ("adoro", "love", "great", "ottimo")

    def __init__(self):
        self.calls = []

    def score(self, texts):
        from sentiment.scores import Score

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


def write_config(tmp_path: Path, *, smtp: str = "", extra: str = "", sources: str | None = None) -> Path:
    """A small valid config in tmp_path; ``smtp`` is the body of [alerts.smtp]."""
    sources = sources if sources is not None else ""
    text = f'''
[database]
path = "test.db"

[[brands]]
name = "Caffè Aurora"
keywords = ["Caffè Aurora", "@CaffeAurora"]
exclude = ["aurora boreale"]
alert_language = "it"

[[brands]]
name = "Lanificio Vento"
keywords = ["Lanificio Vento"]
alert_language = "en"
recipients = ["wool@example.com"]

[alerts]
sender = "ascolto@example.com"
recipients = ["cm@example.com"]
retry_seconds = 60
max_retry_seconds = 600

[alerts.smtp]
{smtp}
{extra}
{sources}
'''
    path = tmp_path / "ascolto.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fixture_json(*parts: str) -> dict:
    import json

    return json.loads((FIXTURE_DIR.joinpath(*parts)).read_text(encoding="utf-8"))


@pytest.fixture
def recorded_http():
    """The `responses` mock of the `requests` transport that tweepy and praw use.

    Every registered response must be played, and a test that played none fails: a recorded-HTTP
    test that talks to nothing proves nothing.
    """
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        assert mock.calls, "this recorded-HTTP test made no HTTP request"


@pytest.fixture
def no_sleep(monkeypatch):
    """prawcore spaces and retries requests with time.sleep; the tests do not wait (praw's own tests
    patch it the same way). Returns the list of requested delays."""
    import time

    delays = []
    monkeypatch.setattr(time, "sleep", lambda seconds: delays.append(seconds))
    return delays
