"""A fine-tuning recipe: which files train and validate which head, how much of each an epoch draws,
which validation file calibrates the detector in which language, and, for a kind of text (reviews),
which files choose its thresholds and train its own head. A TOML file, so that the shipped
model can be reproduced with one command (see ``sentiment/recipes/`` and the model card)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sentiment.errors import BadDataset
from sentiment.runtime.detector import BASE_KIND, KINDS
from sentiment.runtime.labels import LABELS, UNHAPPY_LABELS
from sentiment.training.datasets import read_labelled, read_unhappy
from sentiment.training.finetune import Task

READERS = {"sentiment": (read_labelled, LABELS), "detector": (read_unhappy, UNHAPPY_LABELS)}


@dataclass(frozen=True)
class Recipe:
    tasks: list[Task]
    calibration: dict[str, Path]  # language -> the detector's validation file that calibrates it
    epochs: int = 4
    rank: int = 16
    seed: int = 0
    # kind (other than posts) -> language -> the validation files that choose that kind's thresholds
    kind_calibration: dict[str, dict[str, list[Path]]] = field(default_factory=dict)
    # kind -> the training files of the kind's own detector head ([heads.review] train = [...])
    kind_train: dict[str, list[Path]] = field(default_factory=dict)


def load_recipe(path: Path, data_dir: Path) -> Recipe:
    """Read a recipe; file names in it are relative to ``data_dir``."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadDataset(f"cannot read recipe {path}: {exc}") from None
    tasks = []
    for spec in doc.get("tasks", []):
        if spec.get("name") not in READERS:
            raise BadDataset(f"{path}: a task's name must be one of {', '.join(READERS)}")
        read, labels = READERS[spec["name"]]
        tasks.append(Task(spec["name"], labels, [read(data_dir / f) for f in spec.get("train", [])],
                          [read(data_dir / f) for f in spec.get("validation", [])], dict(spec.get("draws", {})),
                          float(spec.get("weight", 1.0))))
    if not tasks or tasks[0].name != "sentiment":
        raise BadDataset(f"{path}: the first task must be sentiment (the model's own head)")
    calibration, kinds = {}, {}
    for key, value in doc.get("calibration", {}).items():
        if isinstance(value, str):  # a language's file, for posts
            calibration[key] = data_dir / value
        elif isinstance(value, dict) and key in KINDS and key != BASE_KIND:  # [calibration.review]
            kinds[key] = {lang: [data_dir / f for f in ([files] if isinstance(files, str) else files)]
                          for lang, files in value.items()}
        else:
            raise BadDataset(f"{path}: calibration.{key} must be a language's file or a table of a kind "
                             f"({', '.join(k for k in KINDS if k != BASE_KIND)}) naming each language's files")
    kind_train = {}
    for kind, spec in doc.get("heads", {}).items():
        if kind not in kinds or not isinstance(spec, dict) or not isinstance(spec.get("train"), list):
            raise BadDataset(f"{path}: heads.{kind} must name its training files (train = [...]) for a kind "
                             f"whose validation files [calibration.{kind}] names")
        kind_train[kind] = [data_dir / f for f in spec["train"]]
    return Recipe(tasks, calibration, int(doc.get("epochs", 4)), int(doc.get("rank", 16)), int(doc.get("seed", 0)),
                  kinds, kind_train)
