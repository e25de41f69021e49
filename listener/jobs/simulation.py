"""The team loop, measured (``ascolto eval --simulate-feedback N FILE``).

A labelled file is played as a brand's stream, in its order, a day at a time, through the product's
own path on a scratch database: each day's mentions are imported and judged, a simulated team labels
every alert it received and a share of the day's near-miss list (with the file's labels: an honest
team), and each night the retrain runs exactly as in production, with every safety rule (the gate
set, the per-person cap, the replay of the brand's mentions). After each night the active version is
measured on the stream's later part, which is never played: precision and recall of its alerts at the
brand's preset, against the number of texts the team has labelled so far.

Only the heads are retrained, never the encoder, so a text's embedding is the same for every version:
the simulation embeds each text once (``_SimulatedApp``) and a run takes minutes, not hours.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from listener.app import App
from listener.config import Config, load_config
from listener.kernel.errors import AscoltoError
from listener.kernel.times import iso
from listener.learning.evaluation import alert_report
from listener.pipeline import chunked
from listener.store.cases import add_correction
from listener.store.models import active_version, alerted_mentions, find_version, near_misses
from sentiment.evaluation.files import read_evaluation

from .collect import run_import
from .learning import run_retrain

# The day the simulated stream starts: any fixed day will do (the clock is the simulation's own).
START = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
CHECKPOINTS = (0, 50, 100, 200, 400)


@dataclass(frozen=True)
class Night:
    """The stream's later part as the active version judges it, after a night's retrain."""

    day: int  # 0: before the first day, the version shipped
    labelled: int  # texts the team labelled so far
    retrain: str  # adopted, refused, skipped, or "-" before the first night
    version: str
    precision: float
    recall: float
    alerts: int  # on the later part
    message: str = ""  # the retrain's own account
    # A refused version's precision and recall on the later part: what the labels would have made
    refused_precision: float | None = None
    refused_recall: float | None = None


@dataclass(frozen=True)
class Figures:
    precision: float
    recall: float
    alerts: int


@dataclass(frozen=True)
class Simulation:
    name: str
    played: int  # mentions played day by day
    later: int  # mentions measured, never played
    unhappy_later: int
    nights: list[Night]

    def at(self, labelled: int) -> Night | None:
        """The first night on which the team had labelled ``labelled`` texts (the shipped model at 0)."""
        return next((n for n in self.nights if n.labelled >= labelled), None)


@dataclass(frozen=True)
class Row:
    """One text of the stream: a review where it has stars (judged by the review rule; its stars do not
    alert by themselves here: the simulation measures what the team's labels change, the text's rule)."""

    text: str
    unhappy: bool
    lang: str | None
    rating: int | None = None


@dataclass(frozen=True)
class Team:
    people: int = 2  # the fewest the safety rules let retrain where a team has several
    near_miss_share: float = 0.5  # of each day's near-miss list, labelled
    budget: int = 200  # texts labelled in all; then the team stops


def simulate(config: Config | None, file: Path, workdir: Path, team: Team = Team(), per_day: int = 50,
             later_share: float = 0.4, language: Callable[[str, str | None], str | None] = lambda t, lang: lang,
             report: Callable[[Night], None] = lambda night: None) -> Simulation:
    """Play ``file`` (rows ``{"text", "unhappy"|"complaint"|"label", "lang"?}``, in stream order) on a
    scratch database in ``workdir`` (``config``'s brand, model and learning settings; see
    ``scratch_config``); ``report`` hears each night as it is measured."""
    data = read_evaluation(file)
    rows = [Row(text, unhappy, language(text, lang), rating)
            for text, unhappy, lang, rating in zip(data.texts, data.unhappy, data.langs, data.ratings)]
    split = int(round(len(rows) * (1 - later_share)))
    played, later = rows[:split], rows[split:]
    if not played or not later:
        raise AscoltoError(f"{file}: {len(rows)} rows are too few to play a stream and measure its later part")
    config = scratch_config(config, workdir, sorted({row.lang for row in rows if row.lang}))
    app = _SimulatedApp(config)
    brand = config.brands[0].name
    gold = {row.text: row.unhappy for row in played}
    nights = [_measure(app, brand, later, 0, 0, "-")]
    report(nights[0])
    labelled = 0
    for day, chunk in enumerate(chunked(played, per_day), start=1):
        app.clock = START + timedelta(days=day)
        _import_day(app, brand, chunk, workdir / f"day{day}.jsonl")
        labelled += _team_labels(app, brand, gold, team, team.budget - labelled)
        app.clock = START + timedelta(days=day, hours=18)
        result = run_retrain(app)
        night = _measure(app, brand, later, day, labelled, result.status, result.message)
        refused = find_version(app.db, result.version) if result.status == "refused" and result.version else None
        if refused is not None:
            figures = _figures(app, app.scorer_for(Path(refused.head_file)), brand, later)
            night = dataclasses.replace(night, refused_precision=figures.precision, refused_recall=figures.recall)
        nights.append(night)
        report(nights[-1])
    app.close()
    return Simulation(data.name, len(played), len(later), sum(row.unhappy for row in later), nights)


class _SimulatedApp(App):
    """An App on the simulation's clock that embeds each text once for all the model versions."""

    def __init__(self, config: Config):
        self.clock = START
        super().__init__(config, now=lambda: self.clock, mailer=None)
        self.embeddings: dict[str, np.ndarray] = {}

    def scorer_for(self, head: Path | None = None):
        scorer = super().scorer_for(head)
        inner = scorer.inner
        if hasattr(inner, "embed"):
            inner.embed = _remembered(inner.embed, self.embeddings)
        return scorer


def _remembered(embed, memory: dict[str, np.ndarray]):
    def embed_once(texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if text not in memory]
        if new:
            memory.update(zip(new, embed(new)))
        if not texts:
            return embed([])
        return np.stack([memory[text] for text in texts])

    return embed_once


def scratch_config(config: Config | None, workdir: Path, languages: Sequence[str]) -> Config:
    """``config`` (its brand's preset and languages, its model, its ``[learning]``) with its own
    database and models folder in ``workdir``, no channels (nothing is sent) and no alert from stars
    alone. Without one, a brand in ``languages`` on the default model and settings."""
    if config is None:
        path = workdir / "simulation.toml"
        path.write_text('[database]\npath = "simulation.db"\n\n[model]\nruntime = "onnx"\n\n'
                        '[[brands]]\nname = "Simulated brand"\nkeywords = ["simulated brand"]\n'
                        f'languages = {json.dumps(list(languages) or ["en"])}\n', encoding="utf-8")
        config = load_config(path, require_secrets=False)
    alerts = dataclasses.replace(config.alerts, channels=(), recipients=())
    # A review's 1-2 stars would alert whatever the model says, and the file's labels are those stars:
    # the simulation measures the text's rule, which is what the team's labels change.
    brands = tuple(dataclasses.replace(brand, low_rating_alerts=False) for brand in config.brands)
    return dataclasses.replace(config, database=workdir / "simulation.db", sources=(), alerts=alerts, brands=brands,
                               learning=dataclasses.replace(config.learning, models_dir=workdir / "models"))


def _import_day(app: App, brand: str, chunk: list, path: Path) -> None:
    """The day's mentions through the import path, as a brand's export would come in."""
    from listener.sources import files

    day = app.now()
    with path.open("w", encoding="utf-8") as out:
        for i, row in enumerate(chunk):
            out.write(json.dumps({"id": f"{path.stem}-{i}", "source": "simulation", "author": f"customer{i}",
                                  "text": row.text, "lang": row.lang, "created_at": iso(day + timedelta(minutes=i)),
                                  **({"rating": row.rating} if row.rating is not None else {})},
                                 ensure_ascii=False) + "\n")
    run_import(app, files.Settings(name=f"simulation:{path.stem}", path=path, brand=brand))


def _team_labels(app: App, brand: str, gold: dict[str, bool], team: Team, budget: int) -> int:
    """The team labels the day's alerts, then a share of its near misses, within ``budget`` texts."""
    since, until = iso(app.now() - timedelta(hours=12)), iso(app.now() + timedelta(hours=12))
    alerted = [(m.id, m.text, "unhappy") for m in alerted_mentions(app.db, brand, since, until)]
    settings = app.config.learning
    near = near_misses(app.db, brand, since, until, settings.near_miss_share, settings.near_miss_max)
    near = [(m.id, m.text, "other") for m in near[:int(round(len(near) * team.near_miss_share))]]
    labelled = 0
    with app.db.atomic():
        for mention_id, text, model_label in (alerted + near)[:max(budget, 0)]:
            add_correction(app.db, kind="mention", subject_id=mention_id, text=text, model_label=model_label,
                           label="unhappy" if gold[text] else "other", author=f"person{labelled % team.people + 1}",
                           now=iso(app.now()), task="detector", via="link")
            labelled += 1
    return labelled


def _measure(app: App, brand: str, later: list, day: int, labelled: int, retrain: str, message: str = "") -> Night:
    figures = _figures(app, app.scorer, brand, later)
    active = active_version(app.db)
    return Night(day, labelled, retrain, active.name if active else app.scorer.name, figures.precision,
                 figures.recall, figures.alerts, message)


def _figures(app: App, scorer, brand: str, later: list) -> Figures:
    """Alert precision and recall of ``scorer`` on the later part, by the brand's alert rule."""
    rules = app.alert_rules
    scores = scorer.score([row.text for row in later])
    flagged = [rules.classify(brand, row.lang, score, scorer.detector, rating=row.rating)[1].alert
               for score, row in zip(scores, later)]
    report = alert_report(rules.preset(brand), [row.unhappy for row in later], flagged)
    return Figures(report.precision, report.recall, sum(flagged))


def format_simulation(sim: Simulation) -> str:
    lines = [f"{sim.name}: {sim.played} mentions played, the next {sim.later} measured "
             f"({sim.unhappy_later} should alert)",
             "  day  labelled  retrain   version                       precision  recall  alerts"]
    for n in sim.nights:
        refused = (f"  (refused version: precision {n.refused_precision:.3f} recall {n.refused_recall:.3f})"
                   if n.refused_precision is not None else "")
        lines.append(f"  {n.day:>3}  {n.labelled:>8}  {n.retrain:<8}  {n.version[:28]:<28}  {n.precision:>9.3f}  "
                     f"{n.recall:>6.3f}  {n.alerts:>6}{refused}")
    reached = [(c, sim.at(c)) for c in CHECKPOINTS if sim.at(c) is not None]
    lines.append("  after " + ", ".join(f"{c} labels: P {n.precision:.3f} R {n.recall:.3f}" for c, n in reached))
    return "\n".join(lines)
