"""Retraining on the team's corrections.

Every correction (a "not a complaint" or "this is a complaint" click, `ascolto sentiment correct`) is a
row in ``corrections``. When enough new ones exist, ``retrain`` refits the sentiment head and the
detector's head on them (and on the training files of ``[learning]``), starting from the heads in use
and pulled towards them, so that a few hundred corrections adjust the model rather than replace it.
The new version is adopted only if it is at least as good as the active one on every validation file
and on the share of corrections held back from training; otherwise it is kept on file, refused, with
the reason in ``model_versions`` and ``runs``. ``ascolto sentiment history`` lists the versions and
``ascolto sentiment use`` rolls back.

The encoder (and its LoRA adapters) stays as shipped: retraining the heads takes seconds to minutes
on two cores, fine-tuning the encoder takes hours (``ascolto sentiment finetune``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from listener.kernel.times import iso
from listener.store import models
from sentiment.evaluation.metrics import evaluate
from sentiment.runtime.detector import DEFAULT_PRESET, Detector, raw_probability
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import LABELS, UNHAPPY_LABELS
from sentiment.training.calibration import calibrate
from sentiment.training.datasets import LabelledTexts, read_labelled, read_unhappy
from sentiment.training.heads import class_weights, fit_head

from .versions import models_dir

log = logging.getLogger(__name__)
ANCHOR_L2 = 1e-3  # how strongly a retrained head is held to the one in use
TASKS = {"sentiment": LABELS, "detector": UNHAPPY_LABELS}


@dataclass
class Retrain:
    status: str  # adopted, refused, skipped
    message: str
    version: str | None = None


def retrain(app, force: bool = False) -> Retrain:
    settings, db, now = app.config.learning, app.db, iso(app.now())
    scorer = app.scorer
    if scorer.heads is None or scorer.heads.detector is None:
        return Retrain("skipped", f"model {scorer.name} has no heads to retrain (only the offline model's can be)")
    active = models.active_version(db)
    since = active.created_at if active and active.parent else ""
    new = len(models.corrections(db, since))
    if new < settings.min_corrections and not force:
        return Retrain("skipped", f"{new} new corrections since version {active.name if active else '-'}; "
                                  f"retraining waits for {settings.min_corrections}")
    train, held = _corrections(db, settings.holdout_share)
    if not any(held.values()) and not settings.sentiment_validation and not settings.detector_validation:
        return Retrain("skipped", "nothing to check a new version against yet: no held-back corrections and no "
                                  "validation files in [learning]")
    old_head, old_detector = scorer.heads.sentiment, scorer.heads.detector
    new_head = _refit(scorer, old_head, train["sentiment"], _files(settings.sentiment_train, read_labelled))
    detector_head = _refit(scorer, old_detector.head, train["detector"],
                           _files(settings.detector_train, read_unhappy))
    new_detector = _calibrated(scorer, detector_head, old_detector, settings.detector_validation)
    checks = _compare(scorer, (old_head, old_detector), (new_head, new_detector), held, settings)
    worse = [c for c in checks if c["new"] < c["old"]]
    name = _next_name(db)
    head_file = _save(app, name, new_head, new_detector, scorer, checks, train)
    record = {"name": name, "created_at": now, "parent": active.name if active else None,
              "head_file": str(head_file), "corrections": sum(len(v) for v in train.values()),
              "trained_on": json.dumps({task: len(rows) for task, rows in train.items()}),
              "validation": json.dumps(checks)}
    figures = "; ".join(f"{c['on']} {c['old']:.3f} -> {c['new']:.3f}" for c in checks)
    with db.atomic():
        if worse:
            reason = "worse on " + ", ".join(c["on"] for c in worse)
            models.add_version(db, **record, status="refused", reason=reason)
            return Retrain("refused", f"version {name} refused, {reason} ({figures}); keeping "
                                      f"{active.name if active else 'the shipped model'}", name)
        models.add_version(db, **record, status="active", reason="at least as good everywhere")
    app.reload_scorer()
    return Retrain("adopted", f"version {name} adopted ({figures})", name)


def _corrections(db, holdout_share: float) -> tuple[dict, dict]:
    """The corrections per task, split for training and held back; the latest label per text wins,
    and the split is by text, stable from one run to the next."""
    latest = {}
    for row in models.corrections(db):
        latest[(row.task, row.text)] = row
    train, held = {t: [] for t in TASKS}, {t: [] for t in TASKS}
    for (task, text), row in latest.items():
        bucket = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 1000 < holdout_share * 1000
        (held if bucket else train)[task].append(row)
    return train, held


def _files(paths, read) -> list[LabelledTexts]:
    return [read(Path(p)) for p in paths]


def _refit(scorer, head: LinearHead, corrections: list[models.Correction], files: list[LabelledTexts]) -> LinearHead:
    texts = [c.text for c in corrections] + [t for f in files for t in f.texts]
    labels = [c.label for c in corrections] + [label for f in files for label in f.labels]
    if not texts:
        return head
    y = np.asarray([head.labels.index(label) for label in labels])
    refit = fit_head(scorer.embed(texts), y, ANCHOR_L2, class_weights(y, len(head.labels)), head.labels, anchor=head)
    refit.info = {**head.info, "retrained_on": len(texts)}
    return refit


def _calibrated(scorer, head: LinearHead, old: Detector, validation: tuple[str, ...]) -> Detector:
    """Calibration and thresholds fitted again where validation files are given; else the old ones."""
    if not validation:
        return Detector(head, old.calibration, old.thresholds, old.figures)
    files = dict(entry.partition("=")[::2] for entry in validation)
    return calibrate(head, scorer.embed, files)


def _compare(scorer, old, new, held: dict, settings) -> list[dict]:
    """Old against new on every validation file and on the held-back corrections of each task."""
    checks = []
    for path in settings.sentiment_validation:
        data = read_labelled(Path(path))
        x = scorer.embed(data.texts)
        checks.append({"on": data.name, "metric": "macro-F1",
                       "old": _macro(old[0], x, data), "new": _macro(new[0], x, data)})
    for entry in settings.detector_validation:
        lang, _, path = entry.partition("=")
        data = read_unhappy(Path(path))
        x = scorer.embed(data.texts)
        checks.append({"on": data.name, "metric": "average precision",
                       "old": _average_precision(old[1], x, data), "new": _average_precision(new[1], x, data)})
    for task, rows in held.items():
        if rows:
            x = scorer.embed([r.text for r in rows])
            pick = (lambda d, x: d[0]) if task == "sentiment" else (lambda d, x: d[1])
            checks.append({"on": f"held-back {task} corrections ({len(rows)})", "metric": "agreement",
                           "old": _agreement(task, pick(old, x), x, rows), "new": _agreement(task, pick(new, x), x, rows)})
    return [{**c, "old": round(c["old"], 4), "new": round(c["new"], 4)} for c in checks]


def _macro(head: LinearHead, x, data: LabelledTexts) -> float:
    return evaluate(data.name, data.labels, [LABELS[i] for i in head.probabilities(x).argmax(1)]).macro_f1


def _average_precision(detector: Detector, x, data: LabelledTexts) -> float:
    """The mean precision over the recall steps of every threshold; tied scores step together, so a
    detector that scores everything alike gets the base rate, not the luck of the file's order."""
    scores = raw_probability(detector.head, x)
    gold = np.asarray([label == "unhappy" for label in data.labels])
    if not gold.any():
        return 0.0
    ap, previous_recall = 0.0, 0.0
    for threshold in np.unique(scores)[::-1]:
        flagged = scores >= threshold
        recall = (flagged & gold).sum() / gold.sum()
        ap += (recall - previous_recall) * (flagged & gold).sum() / flagged.sum()
        previous_recall = recall
    return float(ap)


def _agreement(task: str, model, x, rows: list[dict]) -> float:
    if task == "sentiment":
        predicted = [LABELS[i] for i in model.probabilities(x).argmax(1)]
    else:
        raw = raw_probability(model.head, x)
        predicted = ["unhappy" if model.is_unhappy(p, r.lang, DEFAULT_PRESET) else "other" for p, r in zip(raw, rows)]
    return float(np.mean([p == r.label for p, r in zip(predicted, rows)]))


def _next_name(db) -> str:
    return f"r{models.retrained_count(db) + 1}"


def _save(app, name: str, head: LinearHead, detector: Detector, scorer, checks, train) -> Path:
    """The version's head file, and a copy of the encoder adapters it needs, in the models folder."""
    folder = models_dir(app.config)
    folder.mkdir(parents=True, exist_ok=True)
    adapter = head.info.get("adapter")
    head = LinearHead(head.weight, head.bias, dict(head.info), head.labels)
    if adapter and app.active_head_file is not None:
        source = Path(app.active_head_file).parent / adapter
        if source.resolve() != (folder / source.name).resolve():
            shutil.copy(source, folder / source.name)
        head.info["adapter"] = source.name
    head.info.update(version=name, checks=checks, corrections={task: len(rows) for task, rows in train.items()})
    path = folder / f"{name}.json"
    head.save(path, extra={"detector": detector.to_dict()})
    return path


