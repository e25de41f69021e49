"""Sentiment speed and quality, side by side in one run, each variant in a fresh process.

    python benchmarks/sentiment_speed.py [--texts 2000] [--skip-xlmr] [--skip-e2e] [--head FILE ...]
    python benchmarks/sentiment_speed.py --cluster [--texts 1000]

``--cluster``: the offline default in this process against a local Ray with 1 and 2 single-thread
workers on the same host and texts: texts/s, the scaling from 1 to 2 workers, Ray's cost against
in-process, the single SQLite writer's measured ceiling, and what N machines would give.

For the offline default (e5-small + head) and for an XLM-R-base-shaped classifier (random weights:
speed only), it compares the plain transformers pipeline (batch 32), our scorer (length-sorted
batches, dynamic padding, torch) and our scorer on ONNX Runtime with int8 weights. For each: load
time, texts/s, peak memory (VmHWM of the process) and, for the offline default, macro-F1 on the
held-out XLM-T test files. Then end to end: 10,000 mentions imported from a file, scored and written
to SQLite, with texts/s, rows/s and SQLite's share of the time. Texts come from ../shared/data.
``--head`` adds the same rows for another head file of the offline encoder (with its adapters).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))


def texts_from_shared(limit: int) -> list[str]:
    from sentiment.training.datasets import read_labelled

    folder = SHARED / "data" / "sentiment"
    if not folder.is_dir():
        sys.exit(f"benchmark: {folder} is absent; it reads its texts from there")
    texts = []
    for name in ("xlmt_italian_train", "xlmt_english_train", "xlmt_italian_val", "xlmt_english_val"):
        texts += read_labelled(folder / f"{name}.jsonl").texts
    return texts[:limit]


def cpu_summary() -> str:
    """The CPU's name and its int8 instructions: int8 speed, and its ratio to float, depend on VNNI."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "CPU unknown"
    pairs = (line.split(":", 1) for line in info if ":" in line)
    fields = {key.strip(): value.strip() for key, value in pairs}  # the last core's, like all others
    name = fields.get("model name", "CPU")
    flags = set(fields.get("flags", "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    vnni = "VNNI" if flags & {"avx512_vnni", "avx_vnni"} else "no VNNI"
    return f"{name}, {vector}, {vnni}"


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss does not (a
    child started by a parent that had loaded a model would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- the variants (each runs in its own process) ------------------------------------------------

def build_xlmr(folder: Path) -> None:
    """An XLM-R-base-shaped classifier and encoder with random weights, and XLM-R's tokenizer."""
    import shutil

    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from sentiment.building.e5_folder import e5_folder

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072, max_position_embeddings=514, num_labels=3, pad_token_id=1,
                              id2label={0: "negative", 1: "neutral", 2: "positive"},
                              label2id={"negative": 0, "neutral": 1, "positive": 2})
    XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # e5-small's tokenizer is XLM-R's
        shutil.copy(e5_folder() / name, folder / name)


def random_head(dim: int):
    import numpy as np

    from sentiment.runtime.heads import LinearHead

    rng = np.random.default_rng(0)
    return LinearHead(rng.normal(size=(3, dim)).astype("float32"), np.zeros(3, "float32"), {"prefix": ""})


def offline_head(model: str) -> Path | None:
    """The head file behind a model name: the default's for "e5-small", the file for a --head path."""
    from sentiment.runtime.loading import DEFAULT_HEAD

    if model == "e5-small":
        return DEFAULT_HEAD
    return Path(model) if model.endswith(".json") else None


def make_scorer(model: str, variant: str, xlmr_dir: Path | None):
    from sentiment.building.e5_folder import e5_folder
    from sentiment.runtime.loading import ModelSettings, encoder_folder, encoder_scorer
    from sentiment.runtime.model_file import Heads
    from sentiment.runtime.scorers import ClassifierScorer, EncoderScorer, Tokens

    runtime = "torch" if variant == "sorted" else variant
    settings = ModelSettings(batch_size=32, max_length=128, runtime=runtime)
    if head_file := offline_head(model):
        if variant == "pipeline":
            heads = Heads.load(head_file)
            return PipelineEncoder(encoder_folder(e5_folder(), heads, head_file), heads.sentiment)
        return encoder_scorer(e5_folder(), head_file, model, settings)  # with its LoRA adapters merged
    if variant == "pipeline":
        return PipelineClassifier(xlmr_dir)
    if variant == "sorted":
        return ClassifierScorer(str(xlmr_dir), batch_size=32, max_length=128)
    from sentiment.runtime.encoders import load_tokenizer
    from sentiment.runtime.onnx import OnnxEncoder

    return EncoderScorer("xlm-r", Tokens(load_tokenizer(str(xlmr_dir)), "", 128), OnnxEncoder.of_folder(xlmr_dir, variant),
                         Heads(random_head(768)), batch_size=32)


class PipelineClassifier:
    """The obvious way: transformers.pipeline("text-classification"), batch 32."""

    def __init__(self, folder):
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=str(folder), tokenizer=str(folder), device="cpu")

    def score(self, texts):
        return self.pipe(list(texts), batch_size=32, truncation=True, max_length=128)


class PipelineEncoder:
    """The obvious way for an embedding model: the feature-extraction pipeline, batch 32, then
    mean pooling and the same head in numpy."""

    def __init__(self, folder, head):
        from transformers import pipeline

        self.pipe = pipeline("feature-extraction", model=str(folder), tokenizer=str(folder), device="cpu",
                             model_kwargs={"add_pooling_layer": False})
        self.head = head

    def score(self, texts):
        import numpy as np

        from sentiment.scoring import Score

        prefixed = ["query: " + t for t in texts]
        outputs = self.pipe(prefixed, batch_size=32, tokenize_kwargs={"truncation": True, "max_length": 128})
        # The pipeline returns each text padded to its batch's longest: pool over the real tokens only.
        lengths = [len(ids) for ids in self.pipe.tokenizer(prefixed, truncation=True, max_length=128)["input_ids"]]
        pooled = np.stack([np.asarray(o[0])[:n].mean(axis=0) for o, n in zip(outputs, lengths)])
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return [Score.from_probabilities(p) for p in self.head.probabilities(pooled)]


def child(model: str, variant: str, count: int, xlmr_dir: str | None) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    texts = texts_from_shared(count)
    started = time.perf_counter()
    scorer = make_scorer(model, variant, Path(xlmr_dir) if xlmr_dir else None)
    scorer.score(texts[:8])  # warm-up, counted in the load time
    load = time.perf_counter() - started
    rss_loaded = peak_rss_mb()
    started = time.perf_counter()
    scorer.score(texts)
    seconds = time.perf_counter() - started
    name = Path(model).stem if model.endswith(".json") else model
    result = {"model": name, "variant": variant, "texts": len(texts), "load_s": round(load, 1),
              "texts_per_s": round(len(texts) / seconds, 1), "peak_rss_mb": round(peak_rss_mb()),
              "rss_after_load_mb": round(rss_loaded)}
    if offline_head(model):
        result.update(quality(scorer))
    return result


def quality(scorer) -> dict:
    from sentiment.evaluation.metrics import evaluate
    from sentiment.training.datasets import read_labelled

    figures = {}
    for name in ("xlmt_italian_test", "xlmt_english_test"):
        data = read_labelled(SHARED / "eval" / "sentiment" / f"{name}.jsonl")
        labels = [s.label if hasattr(s, "label") else s["label"] for s in scorer.score(data.texts)]
        figures[f"f1_{name.split('_')[1]}"] = round(evaluate(name, data.labels, labels).macro_f1, 3)
    return figures


# ---- end to end ---------------------------------------------------------------------------------

def end_to_end(runtime: str, count: int = 10_000, themes: bool = True) -> dict:
    """Import `count` mentions from a JSONL file through scoring (and themes) into SQLite."""
    import listener.pipeline as pipeline
    from listener.app import App
    from listener.config import load_config
    from listener.jobs.collect import run_import

    texts = texts_from_shared(5000)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        with (folder / "mentions.jsonl").open("w", encoding="utf-8") as out:
            for i in range(count):
                out.write(json.dumps({"id": str(i), "source": "x", "author": f"user{i % 997}",
                                      "text": f"{texts[i % len(texts)]} #{i // len(texts)}",
                                      "created_at": "2026-11-20T10:00:00Z", "brand": "Bench"}) + "\n")
        (folder / "bench.toml").write_text(
            f'[database]\npath = "bench.db"\n[model]\nname = "offline"\nruntime = "{runtime}"\n'
            '[[brands]]\nname = "Bench"\nkeywords = ["bench"]\n'
            '[[sources]]\ntype = "import"\nname = "bench"\npath = "mentions.jsonl"\n'
            f'[theme_matching]\nretail_themes = {"true" if themes else "false"}\n', encoding="utf-8")
        app = App(load_config(folder / "bench.toml"))
        app.scorer.score(["warm up"])
        app.theme_matcher  # the themes' examples embedded once per process, before the clock starts
        timings = {"write": 0.0, "score": 0.0, "themes": 0.0}
        save, score, themes_of = pipeline.insert_mentions, app.scorer.score, pipeline.record_themes

        def timed(key, function):
            def wrapper(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    timings[key] += time.perf_counter() - started
            return wrapper

        pipeline.insert_mentions, app.scorer.score = timed("write", save), timed("score", score)
        pipeline.record_themes = timed("themes", themes_of)
        started = time.perf_counter()
        counts = run_import(app, app.config.sources[0])
        total = time.perf_counter() - started
        pipeline.insert_mentions, pipeline.record_themes = save, themes_of
        themed = app.db["mention_themes"].count
        rows = app.db["mentions"].count
        app.close()
    return {"runtime": runtime, "themes": len(app.config.themes), "mention_themes": themed,
            "themes_share": f"{timings['themes'] / total:.1%}", "mentions": counts.new, "rows": rows,
            "seconds": round(total, 1),
            "texts_per_s": round(counts.scored / total, 1), "rows_per_s": round(rows / total, 1),
            "scoring_share": f"{timings['score'] / total:.0%}", "sqlite_write_share": f"{timings['write'] / total:.1%}",
            "peak_rss_mb": round(peak_rss_mb())}


# ---- in process against Ray --------------------------------------------------------------------

def cluster_child(kind: str, workers: int, count: int) -> dict:
    """One scorer (in process, or Ray with ``workers`` single-thread workers), warmed up, then timed."""
    from sentiment.runtime.loading import ModelSettings, load_scorer

    texts = texts_from_shared(count)
    settings = ModelSettings(runtime="onnx")
    started = time.perf_counter()
    if kind == "inprocess":
        scorer = load_scorer(settings)
    else:
        from sentiment.runtime.cluster import ClusterScorer, ClusterSettings

        scorer = ClusterScorer(settings, ClusterSettings("local", workers=workers, cpus_per_worker=1, sub_batch=64))
    scorer.score(texts[:64])  # every worker's first call (its sessions warm) is not the steady rate
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    scorer.score(texts)
    seconds = time.perf_counter() - started
    return {"kind": kind, "workers": workers, "load_s": round(loaded, 1), "texts": len(texts),
            "texts_per_s": round(len(texts) / seconds, 1), "peak_rss_mb": round(peak_rss_mb())}


def writer_ceiling(count: int = 20_000) -> float:
    """Rows/s the one SQLite writer commits (scored mentions, chunks of 500, WAL): the ceiling of
    any number of scoring machines feeding one database."""
    from listener.sources.base import MentionRow
    from listener.store.database import open_db
    from listener.store.mentions import ScoredMention, insert_mentions

    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "w.db")
        rows = [ScoredMention(MentionRow(f"x:{i}", "x", str(i), "Caffè Aurora", f"u{i}", None,
                                         f"Caffè Aurora testo {i} " * 8, "it", "2026-11-20T10:00:00Z",
                                         "2026-11-20T10:00:00Z", "{}"), "negative", 0.9, 0.9, 0.05, 0.05, "m",
                              "detractor", 0.9, "detector", 0.5) for i in range(count)]
        started = time.perf_counter()
        for start in range(0, count, 500):
            with db.atomic():
                insert_mentions(db, rows[start:start + 500])
        return count / (time.perf_counter() - started)


def cluster_comparison(count: int) -> None:
    print(f"machine: {os.cpu_count()} cores, {cpu_summary()}; {count} Italian and English tweets from ../shared/data;"
          " offline default on ONNX float32; each variant in a fresh process", flush=True)
    runs = [run_child("--texts", str(count), "--cluster-child", kind, str(workers))
            for kind, workers in (("inprocess", 0), ("ray", 1), ("ray", 2))]
    for row in runs:
        print(json.dumps(row), flush=True)
    here, one, two = (row["texts_per_s"] for row in runs)
    ceiling = writer_ceiling()
    print(f"\n{'variant':<28} {'texts/s':>8}")
    print(f"{'in process (2 threads)':<28} {here:>8}")
    print(f"{'Ray, 1 worker x 1 CPU':<28} {one:>8}")
    print(f"{'Ray, 2 workers x 1 CPU':<28} {two:>8}")
    print(f"scaling 1 -> 2 workers: {two / one:.2f}x; Ray with 2 workers against in process: {two / here:.2f}x")
    print(f"the one SQLite writer: {ceiling:,.0f} rows/s (scored mentions, chunks of 500)")
    print("\nN machines like this one (2 workers each, the measured per-worker rate, one writer):")
    per_worker = two / 2
    for machines in (1, 2, 4, 8, 16, 32, 64):
        scoring = per_worker * 2 * machines
        print(f"  {machines:>3} machines: scoring {scoring:>9,.0f} texts/s, stored {min(scoring, ceiling):>9,.0f} rows/s"
              + ("  <- the writer is the limit" if scoring > ceiling else ""))


# ---- the parent: run everything, print one table ------------------------------------------------

def run_child(*args: str) -> dict:
    output = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="texts per speed run (default 2000)")
    parser.add_argument("--skip-xlmr", action="store_true", help="only the offline default")
    parser.add_argument("--skip-e2e", action="store_true", help="no end-to-end import")
    parser.add_argument("--head", action="append", default=[], type=Path,
                        help="also measure this head file of the offline encoder (repeatable)")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "VARIANT", "XLMR_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--e2e-child", metavar="RUNTIME", help=argparse.SUPPRESS)
    parser.add_argument("--cluster", action="store_true", help="in process against Ray with 1 and 2 workers")
    parser.add_argument("--cluster-child", nargs=2, metavar=("KIND", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--no-themes", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--e2e-runtimes", default="torch,onnx,onnx-int8",
                        help="runtimes of the end-to-end import (default torch,onnx,onnx-int8)")
    args = parser.parse_args()
    if args.child:
        model, variant, xlmr = args.child
        print(json.dumps(child(model, variant, args.texts, None if xlmr == "-" else xlmr)))
        return
    if args.e2e_child:
        print(json.dumps(end_to_end(args.e2e_child, themes=not args.no_themes)))
        return
    if args.cluster_child:
        print(json.dumps(cluster_child(args.cluster_child[0], int(args.cluster_child[1]), args.texts)))
        return
    if args.cluster:
        cluster_comparison(args.texts)
        return

    print(f"machine: {os.cpu_count()} cores, {cpu_summary()}; {args.texts} Italian and English tweets from "
          "../shared/data", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as xlmr_dir:
        plans = [("e5-small", "-")] + [(str(head.resolve()), "-") for head in args.head]
        if not args.skip_xlmr:
            build_xlmr(Path(xlmr_dir))
            plans.append(("xlmr-base-random", xlmr_dir))
        for model, folder in plans:
            for variant in ("pipeline", "sorted", "onnx", "onnx-int8"):
                row = run_child("--texts", str(args.texts), "--child", model, variant, folder)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    header = f"{'model':<20} {'variant':<10} {'load s':>7} {'texts/s':>8} {'x pipeline':>10} {'peak MB':>8} {'F1 it':>6} {'F1 en':>6}"
    print(header)
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["variant"] == "pipeline")["texts_per_s"]
        print(f"{row['model']:<20} {row['variant']:<10} {row['load_s']:>7} {row['texts_per_s']:>8} "
              f"{row['texts_per_s'] / base:>9.1f}x {row['peak_rss_mb']:>8} {row.get('f1_italian', '-'):>6} "
              f"{row.get('f1_english', '-'):>6}")
    if not args.skip_e2e:
        print("\nend to end: 10,000 mentions from a JSONL file -> scoring -> themes -> SQLite (offline default),"
              " with the retail themes and without themes")
        for runtime in args.e2e_runtimes.split(","):
            for themes in ([], ["--no-themes"]):
                print(json.dumps(run_child("--e2e-child", runtime, *themes)), flush=True)


if __name__ == "__main__":
    main()
