"""int8 against float32 for the shipped model, on validation files: which recipe keeps float32's
decisions, and at what speed, in one run.

    python benchmarks/int8_quality.py [--rounds 3]

Recipes, each built from the same float32 ONNX file of the shipped encoder (care adapters merged):

- ``dynamic``: ONNX Runtime's ``quantize_dynamic`` (one activation scale per batch, 7-bit weights per
  channel, the MatMuls whose input has an outlier channel kept float32): the product's int8 until
  2026-12-07, kept here as the obvious alternative;
- ``token-w7`` and ``token-w8``: ``sentiment.building.int8`` (one scale per token, SmoothQuant, GELU
  outputs on 256 levels, the same outlier MatMuls float32) with 7-bit weights (what CPUs without VNNI
  get) and 8-bit weights (CPUs with VNNI; on a CPU without it, its figures here may include
  saturated sums);
- ``token-a7w8``: 8-bit weights with 7-bit activations, the other way to keep AVX2's pair sums from
  saturating (``127 x 127 x 2`` fits in 16 bits);
- ``token-w8-all``: the same as ``token-w8`` with the outliers' MatMuls quantised too (what the
  float32 fallback buys).

For each, on the validation files (never ../shared/eval): agreement of sentiment labels with
float32's and macro-F1 per language, agreement of alert decisions at ``balanced`` per language (each
file judged as the product judges it: complaints and ABSITA as posts, Skytrax and OpeNER as reviews),
alert precision and recall per file, and texts/s over all the files (the recipes take turns,
``--rounds`` times, so that a busy host slows each alike). A recipe holds where macro-F1 moves at most
half a point and at least 99.5% of alert decisions agree, in each language.

On a CPU with AVX-512 and VNNI, ``benchmarks/avx2_host/run.sh python benchmarks/int8_quality.py``
gives an AVX2 host's figures: ONNX Runtime's AVX2 kernels, with their saturation, at this CPU's speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "sentiment"
sys.path.insert(0, str(REPO))

SENTIMENT = {"it": "xlmt_italian_val", "en": "xlmt_english_val"}
ALERTS = {"it": {"absita2018_italian_val": "post", "opener_italian_val": "review"},
          "en": {"complaints_english_val": "post", "skytrax_english_val": "review"}}


def build(recipe: str, float_file: Path, folder: Path, work: Path) -> Path:
    from sentiment.building.int8 import int8_file, quantize_int8

    # named with the product's recipe hash too, so that a study file of an earlier recipe is not reused
    target = work / f"{recipe}-{int8_file((), 8)}"
    if target.is_file():
        return target
    if recipe == "dynamic":
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        from sentiment.building.int8 import CALIBRATION, activation_statistics, outlier_matmuls

        _, spread = activation_statistics(float_file, folder, CALIBRATION)
        quantize_dynamic(str(float_file), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=outlier_matmuls(onnx.load(str(float_file)), spread))
    elif recipe == "token-a7w8":
        quantize_int8(float_file, target, folder, bits=8, activation_bits=7)
    elif recipe == "token-w8-all":
        quantize_int8(float_file, target, folder, bits=8, outlier_spread=None)
    else:
        quantize_int8(float_file, target, folder, bits=int(recipe[-1]))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds, the recipes taking turns")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"int8_quality: {DATA} is absent; it reads its texts from there")

    from sentiment.building.e5_folder import e5_folder
    from sentiment.building.int8 import weight_bits
    from sentiment.building.onnx_export import onnx_model
    from sentiment.runtime.encoders import cpu_threads
    from sentiment.runtime.loading import DEFAULT_HEAD, encoder_folder, tokens
    from sentiment.runtime.model_file import Heads
    from sentiment.runtime.onnx import OnnxEncoder
    from sentiment.runtime.scorers import EncoderScorer
    from sentiment.training.datasets import read_labelled, read_unhappy

    heads = Heads.load(DEFAULT_HEAD)
    folder = encoder_folder(e5_folder(None), heads, DEFAULT_HEAD)
    float_file = onnx_model(folder, "onnx")
    work = folder / "onnx" / "int8-study"
    work.mkdir(exist_ok=True)
    recipes = {"float32": float_file, **{name: build(name, float_file, folder, work)
                                         for name in ("dynamic", "token-w7", "token-w8", "token-a7w8", "token-w8-all")}}
    files = {name: read_labelled(DATA / f"{name}.jsonl") for name in SENTIMENT.values()}
    files.update({name: read_unhappy(DATA / f"{name}.jsonl") for kinds in ALERTS.values() for name in kinds})
    texts = [text for data in files.values() for text in data.texts]
    print(f"machine: {cpu_threads()} threads, {'VNNI' if weight_bits() == 8 else 'no VNNI'}; "
          f"{len(texts)} validation texts", flush=True)

    scorers = {name: EncoderScorer(name, tokens(folder, heads), OnnxEncoder(path), heads) for name, path in recipes.items()}
    speed = {name: [] for name in recipes}
    embedded = {}
    for _ in range(args.rounds):
        for name, scorer in scorers.items():
            start = time.perf_counter()
            vectors = scorer.embed(texts)
            speed[name].append(len(texts) / (time.perf_counter() - start))
            embedded[name] = vectors
    reference = figures(split(embedded["float32"], files), heads, files)
    print(f"float32: {np.median(speed['float32']):.1f} texts/s; "
          + "  ".join(f"{key} {value:.4f}" for key, value in reference.items() if not key.startswith("_")))
    for name in recipes:
        if name == "float32":
            continue
        result = figures(split(embedded[name], files), heads, files, reference)
        holds = all(abs(result[f"f1 {lang}"] - reference[f"f1 {lang}"]) <= 0.005
                    and result[f"alert agreement {lang}"] >= 0.995 for lang in SENTIMENT)
        print(f"{name:<9} {np.median(speed[name]):.1f} texts/s ({np.median(speed[name]) / np.median(speed['float32']):.2f}x "
              f"float32; rounds {', '.join(f'{s:.0f}' for s in speed[name])})  "
              + "  ".join(f"{key} {value:.4f}" for key, value in result.items()) + ("  holds" if holds else ""))


def split(vectors: np.ndarray, files: dict) -> dict:
    out, start = {}, 0
    for name, data in files.items():
        out[name] = vectors[start:start + len(data.texts)]
        start += len(data.texts)
    return out


def figures(embedded: dict, heads, files, reference: dict | None = None) -> dict:
    from sentiment.evaluation.metrics import evaluate
    from sentiment.runtime.detector import raw_by_kind
    from sentiment.runtime.labels import LABELS

    out = {}
    detector = heads.detector
    for lang, name in SENTIMENT.items():
        predicted = [LABELS[i] for i in heads.sentiment.probabilities(embedded[name]).argmax(1)]
        out[f"f1 {lang}"] = evaluate(name, files[name].labels, predicted).macro_f1
        out[f"_labels {name}"] = predicted
        if reference:
            out[f"label agreement {lang}"] = float(np.mean([a == b for a, b in zip(predicted, reference[f"_labels {name}"])]))
    for lang, kinds in ALERTS.items():
        decisions = []
        for name, kind in kinds.items():
            raws = raw_by_kind(detector, embedded[name])
            flagged = [detector.is_unhappy({k: float(v[i]) for k, v in raws.items()}, lang, kind=kind)
                       for i in range(len(embedded[name]))]
            gold = [label == "unhappy" for label in files[name].labels]
            hits = sum(f and g for f, g in zip(flagged, gold))
            out[f"P {name}"], out[f"R {name}"] = hits / max(sum(flagged), 1), hits / max(sum(gold), 1)
            out[f"_alerts {name}"] = flagged
            decisions += list(zip(flagged, reference[f"_alerts {name}"])) if reference else []
        if reference:
            out[f"alert agreement {lang}"] = float(np.mean([a == b for a, b in decisions]))
    if reference is None:
        return out
    return {key: value for key, value in out.items() if not key.startswith("_")}


if __name__ == "__main__":
    main()
