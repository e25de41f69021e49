"""The three sentiment labels and the mapping of a model's own label names onto them."""

from __future__ import annotations

from collections.abc import Mapping

from sentiment.errors import BadLabels

LABELS = ("negative", "neutral", "positive")
# The detector's classes: is the author an unhappy customer who should get an answer?
UNHAPPY_LABELS = ("other", "unhappy")

# Names models use for our labels, lower-cased; LABEL_n ids are only mapped when configured.
_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "negativo": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "neutro": "neutral",
    "positive": "positive",
    "pos": "positive",
    "positivo": "positive",
}


def normalise_label(name: str) -> str:
    """'Negative', 'NEG', 'negativo' -> 'negative'; raises BadLabels for anything else."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise BadLabels(f"unknown sentiment label {name!r}; expected one of {', '.join(LABELS)}") from None


def map_model_labels(id2label: Mapping[int, str], overrides: Mapping[str, str] | None = None) -> list[str]:
    """Our label for each of a model's output ids, in id order.

    ``overrides`` maps the model's names (e.g. ``LABEL_0``) to ours and wins over the aliases.
    Every one of our labels a model lacks (a two-class model has no neutral) simply gets no column.
    """
    overrides = {k: normalise_label(v) for k, v in (overrides or {}).items()}
    mapped = []
    for idx in sorted(id2label):
        name = id2label[idx]
        if name in overrides:
            mapped.append(overrides[name])
            continue
        try:
            mapped.append(normalise_label(name))
        except BadLabels:
            raise BadLabels(
                f"model label {name!r} (id {idx}) has no meaning; set model.label_map, "
                f'e.g. {{ {name} = "negative" }}'
            ) from None
    if len(set(mapped)) != len(mapped):
        raise BadLabels(f"model labels {list(id2label.values())} map onto {mapped}: a label is repeated")
    return mapped
