"""Retraining on the team's corrections, safely.

Every correction (a "not a complaint" or "this is a complaint" click, `ascolto sentiment correct`) is a
row in ``corrections``. When enough newly corrected texts exist, ``retrain`` refits the sentiment head
and the detector's head on them (and on the training files of ``[learning]``), starting from the heads
in use and pulled towards them, so that a few hundred corrections adjust the model rather than
replace it.

One person's clicks may be wrong, or hostile: one recipient clicking "not a complaint" on every alert
once made a version that heard no complaint at all. So:

- a text counts once, with the team's word on it (each person's latest label; the majority of the
  people; the latest on a tie), and one person's texts weigh together at most as much as
  ``max_texts_per_person`` texts;
- a retrain waits for ``min_corrections`` newly corrected texts, from ``min_people`` people where the
  team has that many;
- the new version must pass the shipped gate set (``gate.py``: it may not hear fewer unhappy customers
  than the active one beyond a small tolerance, at any preset, in either language, nor than the
  shipped one), and be at least as good on every validation file of ``[learning]`` and on the
  corrections held back from training;
- corrections are the model's mistakes, a biased sample: trained on them alone, a head learns to
  distrust its own scores (a team's honest 30 false alarms and 15 misses once cut recall to a tenth).
  So the new heads also learn to keep doing what the heads in use do on the brand's latest mentions
  (their probabilities as soft labels; together these weigh ``REPLAY_WEIGHT`` times the corrections),
  and each preset keeps alerting on the same share of those mentions in each language as before (its
  threshold moves to hold the share): corrections change which texts alert, not how many. How many
  is the preset's choice, and no clicks can turn the alerts down;
- a kind of text with its own detector head (reviews: a mention with stars) learns from the
  corrections of that kind and keeps doing what it did on the brand's mentions of that kind, and its
  thresholds hold their share on those mentions the same way; the posts' head learns from every
  correction;
- an adopted version is announced to the team with its figures and the command that goes back; a
  version the gate refuses is announced too; and ``watch.py`` raises a notice when alerts fall after
  an adoption.

A refused version is kept on file, with the reason in ``model_versions`` and ``runs``. ``ascolto
sentiment history`` lists the versions and ``ascolto sentiment use`` rolls back.

The encoder (and its LoRA adapters) stays as shipped: retraining the heads takes seconds to minutes
on two cores, fine-tuning the encoder takes hours (``ascolto sentiment finetune``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from listener.alerts.kinds import NOTICE_ALERT
from listener.alerts.notices import notice
from listener.kernel.times import iso
from listener.store import models
from listener.store.alerts import enqueue
from sentiment.evaluation.metrics import average_precision, evaluate
from sentiment.runtime.detector import BASE_KIND, DEFAULT_PRESET, Detector, raw_by_kind, raw_probability, text_kind
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import LABELS, UNHAPPY_LABELS
from sentiment.runtime.model_file import Heads
from sentiment.training.calibration import calibrate
from sentiment.training.datasets import LabelledTexts, read_labelled, read_unhappy
from sentiment.training.heads import class_weights, fit_head

from . import gate
from .versions import models_dir

log = logging.getLogger(__name__)
ANCHOR_L2 = 0.1  # how strongly a retrained head's weights are held to the one in use
REPLAY_TEXTS = 1000  # the brand's latest mentions, labelled by the heads in use
MIN_REPLAY = 200  # fewer mentions than this: too early to retrain
MIN_LANGUAGE_REPLAY = 50  # a language with fewer holds its alert share on the gate set's texts
REPLAY_WEIGHT = 2.0
# Chosen on validation files (a team's 45 honest corrections of complaints_english_val; recall and
# precision on absita2018 and skytrax val): without the replay and with the anchor at 1e-3, the
# corrections moved the weights by a norm of 9 and strict recall in Italian fell from 0.78 to 0;
# with them (and the thresholds holding each preset's share) it stays within a few points everywhere.
TASKS = {"sentiment": LABELS, "detector": UNHAPPY_LABELS}


@dataclass
class Retrain:
    status: str  # adopted, refused, skipped
    message: str
    version: str | None = None


@dataclass
class TeamLabel:
    """A corrected text, as the team labelled it: one row per text, whoever and however often clicked."""

    task: str
    text: str
    label: str
    lang: str | None
    author: str  # whose label decided (the latest of those who gave it)
    weight: float = 1.0  # below 1 when its author corrected more than a person's share
    kind: str = BASE_KIND  # post or review (a mention with stars)


@dataclass(frozen=True)
class Replay:
    """The brand's latest mentions, embedded: what the new heads must keep doing, and on which each
    preset's alert share is held, per language and kind of text."""

    x: np.ndarray
    langs: np.ndarray
    kinds: np.ndarray

    def of(self, kind: str, lang: str | None = None) -> np.ndarray:
        """Which rows are of ``kind`` (posts: every row: the posts' head judges them all) and ``lang``."""
        rows = np.full(len(self.x), True) if kind == BASE_KIND else self.kinds == kind
        return rows & (self.langs == lang) if lang is not None else rows


def retrain(app, force: bool = False) -> Retrain:
    settings, db, now = app.config.learning, app.db, iso(app.now())
    scorer = app.scorer
    if scorer.heads is None or scorer.heads.detector is None:
        return Retrain("skipped", f"model {scorer.name} has no heads to retrain (only the offline model's can be)")
    active = models.active_version(db)
    every = models.corrections(db)
    since = active.created_at if active and active.parent else ""
    fresh = [c for c in every if c.created_at > since]
    texts, people = len({(c.task, c.text) for c in fresh}), {c.author or "?" for c in fresh}
    needed_people = min(settings.min_people, len({c.author or "?" for c in every}))
    if (texts < settings.min_corrections or len(people) < needed_people) and not force:
        return Retrain("skipped", f"{texts} newly corrected texts from {_people(len(people))} since version "
                                  f"{active.name if active else '-'}; retraining waits for {settings.min_corrections}"
                                  f" texts" + (f" from {_people(needed_people)}" if needed_people > 1 else ""))
    labels = team_labels(every, settings.max_texts_per_person)
    corrected = {row.text for rows in labels.values() for row in rows}
    replay = [(text, lang, rating) for text, lang, rating in models.replay_texts(db, REPLAY_TEXTS + len(corrected))
              if text not in corrected][:REPLAY_TEXTS]
    if len(replay) < MIN_REPLAY and not force:
        return Retrain("skipped", f"{len(replay)} mentions besides the corrected texts; retraining waits for "
                                  f"{MIN_REPLAY}, to learn what the model must keep doing")
    train, held = _split(labels, settings.holdout_share)
    old_head, old_detector = scorer.heads.sentiment, scorer.heads.detector
    x_replay = scorer.embed([text for text, _, _ in replay]) if replay else None
    new_head = _refit(scorer, old_head, train["sentiment"], _files(settings.sentiment_train, read_labelled),
                      x_replay)
    replayed = None if x_replay is None else Replay(x_replay, np.asarray([lang for _, lang, _ in replay], dtype=object),
                                                    np.asarray([text_kind(rating) for *_, rating in replay]))
    detector_heads = _refit_detector(scorer, old_detector, train["detector"], _files(settings.detector_train, read_unhappy),
                                     replayed)
    gate_texts = gate.read_gate()
    x_gate = scorer.embed([t.text for t in gate_texts])  # once: it holds thin languages' thresholds, then judges
    new_detector = _calibrated(scorer, detector_heads, old_detector, settings.detector_validation, replayed,
                               gate_texts, x_gate)
    gated = gate.gate_checks(x_gate, (old_head, old_detector), (new_head, new_detector), gate_texts)
    shipped = _shipped_on_this_encoder(app, active, old_head)
    if shipped is not None:  # a retrained version is active: the shipped one bounds the walk (gate.py)
        gated += gate.gate_checks(x_gate, (shipped.sentiment, shipped.detector), (new_head, new_detector), gate_texts,
                                  against="shipped")
    checks = _compare(scorer, (old_head, old_detector), (new_head, new_detector), held, settings)
    failed = [c.failed for c in gated if c.failed] + [f"{c['on']} {c['old']:.3f} -> {c['new']:.3f}"
                                                      for c in checks if c["new"] < c["old"]]
    name = _next_name(db)
    head_file = _save(app, name, new_head, new_detector, scorer, [*checks, *(row for c in gated for row in c.rows())], train)
    trained = {task: len(rows) for task, rows in train.items()}
    record = {"name": name, "created_at": now, "parent": active.name if active else None,
              "head_file": str(head_file), "corrections": sum(trained.values()), "trained_on": json.dumps(trained),
              "validation": json.dumps([*checks, *(row for c in gated for row in c.rows())])}
    figures = "; ".join([*_gate_figures(gated), *(f"{c['on']} {c['old']:.3f} -> {c['new']:.3f}" for c in checks)])
    previous = active.name if active else "the shipped model"
    who = _who(labels, train)
    with db.atomic():
        if failed:
            reason = "worse on " + ", ".join(failed)
            models.add_version(db, **record, status="refused", reason=reason)
            if any(c.failed for c in gated):
                _announce(app, "model_refused", name, version=name, reason=", ".join(c.failed for c in gated
                                                                                         if c.failed),
                          active=previous, **who)
            return Retrain("refused", f"version {name} refused, {reason}; keeping {previous}", name)
        models.add_version(db, **record, status="active", reason="at least as good everywhere")
        _announce(app, "model_adopted", name, version=name, figures=figures, previous=previous, **who)
    app.reload_scorer()
    return Retrain("adopted", f"version {name} adopted ({figures})", name)


def _shipped_on_this_encoder(app, active, head: LinearHead) -> Heads | None:
    """The shipped model's heads, where a retrained version is active and both run on the same encoder
    adapters (the gate set's embeddings are the active encoder's); else None."""
    if active is None or not active.parent or app.shipped_head_file is None:
        return None
    shipped = Heads.load(app.shipped_head_file)
    same = shipped.detector is not None and shipped.sentiment.info.get("adapter") == head.info.get("adapter")
    return shipped if same else None


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def team_labels(rows: list[models.Correction], max_texts_per_person: int) -> dict[str, list[TeamLabel]]:
    """Per task, each corrected text once: each person's latest label counts one vote, the majority
    wins (the latest label on a tie); a person whose word decided more than ``max_texts_per_person``
    texts has each weighed down so that together they weigh that many."""
    votes: dict[tuple[str, str], dict[str, models.Correction]] = defaultdict(dict)
    for row in rows:  # oldest first: a person's later label replaces their earlier one
        votes[(row.task, row.text)][row.author or "?"] = row
    labels: dict[str, list[TeamLabel]] = {task: [] for task in TASKS}
    for (task, text), by_person in votes.items():
        counts = Counter(row.label for row in by_person.values())
        latest = max(by_person.values(), key=lambda row: row.id)
        label = latest.label if counts[latest.label] == max(counts.values()) else counts.most_common(1)[0][0]
        decider = max((row for row in by_person.values() if row.label == label), key=lambda row: row.id)
        labels.setdefault(task, []).append(TeamLabel(task, text, label, decider.lang, decider.author or "?",
                                                     kind=text_kind(decider.rating)))
    for rows_of_task in labels.values():
        per_person = Counter(row.author for row in rows_of_task)
        for row in rows_of_task:
            row.weight = min(1.0, max_texts_per_person / per_person[row.author])
    return labels


def _split(labels: dict[str, list[TeamLabel]], holdout_share: float) -> tuple[dict, dict]:
    """Training rows and held-back rows per task, split by text, stable from one run to the next."""
    train, held = {t: [] for t in labels}, {t: [] for t in labels}
    for task, rows in labels.items():
        for row in rows:
            bucket = int(hashlib.sha256(row.text.encode()).hexdigest()[:8], 16) % 1000 < holdout_share * 1000
            (held if bucket else train)[task].append(row)
    return train, held


def _gate_figures(gated: list[gate.GateCheck]) -> list[str]:
    return [f"gate set {c.lang} {DEFAULT_PRESET} recall {c.old_recall:.2f} -> {c.new_recall:.2f}, precision "
            f"{c.old_precision:.2f} -> {c.new_precision:.2f}" for c in gated
            if c.preset == DEFAULT_PRESET and c.against == "active"]


def _who(labels: dict[str, list[TeamLabel]], train: dict[str, list[TeamLabel]]) -> dict:
    rows = [row for task_rows in labels.values() for row in task_rows]
    per_person = Counter(row.author for row in rows)
    top, count = per_person.most_common(1)[0] if per_person else ("-", 0)
    return {"texts": len(rows), "people": len(per_person), "top_person": top,
            "top_share": f"{count / max(1, len(rows)):.0%}"}


def _announce(app, key: str, about: str, **params) -> None:
    """Tell the team (the notice channels) about version ``about``; once per version and event."""
    enqueue(app.db, NOTICE_ALERT, f"model:{about}:{key}", app.routes_for(NOTICE_ALERT), iso(app.now()),
            details=notice(key, **params))


def _files(paths, read) -> list[LabelledTexts]:
    return [read(Path(p)) for p in paths]


def _refit(scorer, head: LinearHead, corrections: list[TeamLabel], files: list[LabelledTexts],
           x_replay: np.ndarray | None) -> LinearHead:
    """``head`` refit on the corrections (each by its weight) and the training files (classes balanced),
    and on the replay texts with ``head``'s own probabilities as their labels."""
    texts = [c.text for c in corrections] + [t for f in files for t in f.texts]
    labels = [c.label for c in corrections] + [label for f in files for label in f.labels]
    if not texts:
        return head
    y = np.asarray([head.labels.index(label) for label in labels])
    # A training file's classes are balanced; the corrections' are not: they are the model's errors,
    # and how many it makes each way is what they teach.
    y_files = y[len(corrections):]
    weights = np.concatenate([[c.weight for c in corrections],
                              class_weights(y_files, len(head.labels))[y_files] if len(y_files) else []])
    x, targets = scorer.embed(texts), np.eye(len(head.labels))[y]
    if x_replay is not None and len(x_replay):
        x, targets = np.concatenate([x, x_replay]), np.concatenate([targets, head.probabilities(x_replay)])
        weights = np.concatenate([weights, np.full(len(x_replay), REPLAY_WEIGHT * weights.sum() / len(x_replay))])
    refit = fit_head(x, targets, ANCHOR_L2, None, head.labels, anchor=head, sample_weight=weights)
    refit.info = {**head.info, "retrained_on": len(texts)}
    return refit


def _refit_detector(scorer, old: Detector, corrections: list[TeamLabel], files: list[LabelledTexts],
                    replay: Replay | None) -> dict[str, LinearHead]:
    """The detector's heads refit: the posts' head on every correction and the training files (it judges
    posts, and learns the brand's words from all), and each kind's own head (reviews) on the corrections
    of that kind, its replay the brand's mentions of that kind. A head no correction is about stays as it
    is."""
    heads = {BASE_KIND: _refit(scorer, old.head, corrections, files, None if replay is None else replay.x)}
    for kind, head in old.kind_heads.items():
        mine = [c for c in corrections if c.kind == kind]
        heads[kind] = _refit(scorer, head, mine, [], None if replay is None else replay.x[replay.of(kind)])
    return heads


def _calibrated(scorer, heads: dict[str, LinearHead], old: Detector, validation: tuple[str, ...],
                replay: Replay | None, gate_texts: list[gate.GateText], x_gate: np.ndarray) -> Detector:
    """The new heads (``BASE_KIND``: the posts'; each kind's own) with calibration and thresholds:
    fitted again where validation files are given; else the old calibration, with each threshold moved
    to alert on the same share of texts as before: of the brand's replayed mentions in that language (of
    that kind, for a kind's rule), or, where the brand has few of them, of the gate set's texts in it (an
    English brand's corrections once cut Italian recall from 0.94 to 0.71: nothing held the Italian
    thresholds, and the gate refused every version the team's clicks made). A kind's rule holds its share
    the same way in either case (no brand's validation files choose it), and keeps its calibration: a kind
    whose own head no correction changed keeps its thresholds as they were."""
    kinds = {kind: replace(rule, thresholds=copy.deepcopy(rule.thresholds), head=heads.get(kind, rule.head))
             for kind, rule in old.kinds.items()}
    if validation:
        files = dict(entry.partition("=")[::2] for entry in validation)
        fitted = calibrate(heads[BASE_KIND], scorer.embed, files)
        new = Detector(heads[BASE_KIND], fitted.calibration, fitted.thresholds, fitted.figures, kinds)
    else:
        new = Detector(heads[BASE_KIND], old.calibration, copy.deepcopy(old.thresholds), old.figures, kinds)
    if replay is None:
        return new
    gate_langs = np.asarray([t.lang for t in gate_texts], dtype=object)
    gate_kinds = np.asarray([t.kind for t in gate_texts], dtype=object)
    for lang in old.languages:
        for kind in (BASE_KIND, *old.kinds):
            rule = old.kinds.get(kind)
            if (kind == BASE_KIND and validation) or (rule is not None and lang not in rule.languages) \
                    or (rule is not None and rule.head is not None and new.kinds[kind].head is rule.head):
                continue  # chosen on validation files; the posts' rule applies there; or nothing changed
            mine = replay.of(kind, lang)
            thin = mine.sum() < MIN_LANGUAGE_REPLAY
            x = x_gate[(gate_langs == lang) & ((gate_kinds == kind) | (kind == BASE_KIND))] if thin else replay.x[mine]
            if not len(x):
                continue
            before = _probabilities(old, x, lang, kind)
            after = np.sort(_probabilities(new, x, lang, kind))[::-1]
            old_table, new_table = (old.thresholds, new.thresholds) if rule is None else (rule.thresholds,
                                                                                          new.kinds[kind].thresholds)
            for preset, by_lang in new_table.items():
                by_lang[lang] = _same_share(old_table[preset][lang], before, after)
    return new


def _probabilities(detector: Detector, x: np.ndarray, lang: str, kind: str) -> np.ndarray:
    """The calibrated P(unhappy) of texts embedded as ``x``, judged as ``kind`` in ``lang``."""
    return np.asarray(detector.probability(raw_by_kind(detector, x), lang, kind), dtype=np.float64)


def _same_share(threshold: float, before: np.ndarray, after: np.ndarray) -> float:
    """The threshold on ``after`` (the new probabilities, highest first) that flags as many texts as
    ``threshold`` did on ``before`` (the old ones); one flagging none stays as strict as it was."""
    alerted = int((before >= threshold).sum())
    return float(after[alerted - 1]) if alerted else max(threshold, float(after[0]) + 1e-6)


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
    return average_precision(raw_probability(detector.head, x), [label == "unhappy" for label in data.labels])


def _agreement(task: str, model, x, rows: list[TeamLabel]) -> float:
    if task == "sentiment":
        predicted = [LABELS[i] for i in model.probabilities(x).argmax(1)]
    else:
        raws = raw_by_kind(model, x)
        predicted = ["unhappy" if model.is_unhappy({kind: raw[i] for kind, raw in raws.items()}, r.lang, DEFAULT_PRESET,
                                                   r.kind) else "other" for i, r in enumerate(rows)]
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


