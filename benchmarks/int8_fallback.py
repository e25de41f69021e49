"""Which MatMuls int8 keeps in float32 for the shipped adapters: how ``int8_float_matmuls`` in
``sentiment/heads/e5-small-care-lora.json`` was chosen, and the figures behind it, in one run.

    python benchmarks/int8_fallback.py [--per-file 30] [--plans outliers,worst3,worst6,all-ffn-out]

1. Build the int8 file that keeps float32 only where an activation has an outlier channel (the
   recipe for any encoder, ``outlier_matmuls``).
2. On training-side texts (``--per-file`` from each of four training files), measure after every
   sublayer how far the int8 hidden states are from float32's (relative distance); the feed-forward
   blocks that add the most distance are where 8-bit activations hurt these adapters.
3. For each plan (the outliers, plus the second feed-forward MatMul of the k worst blocks), build
   its int8 file and compare it with float32 on the validation files, never on ../shared/eval:
   agreement of sentiment labels and of alert decisions (balanced), macro-F1 per language, alert
   precision and recall per file, and texts/s (all in this process, one after another).

The plan shipped is the fastest whose macro-F1 per language and alert decisions hold within half a
point of float32 (agreement of alert decisions >= 99.5% per language).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "sentiment"
sys.path.insert(0, str(REPO))

SENTIMENT = {"it": "xlmt_italian_val", "en": "xlmt_english_val"}
ALERTS = {"it": ("absita2018_italian_val", "opener_italian_val"), "en": ("complaints_english_val", "skytrax_english_val")}
PROBES = ("xlmt_italian_train", "xlmt_english_train", "absita2018_italian_train", "complaints_english_train")


def sublayer_outputs(layers: int) -> list[str]:
    names = []
    for i in range(layers):
        names += [f"/model/encoder/layer.{i}/attention/output/LayerNorm/LayerNormalization_output_0",
                  f"/model/encoder/layer.{i}/output/LayerNorm/LayerNormalization_output_0"]
    return names[:-1] + ["last_hidden_state"]  # the last block's output is the graph's output


def worst_ffn_blocks(float_file: Path, int8_file: Path, tokens, texts: list[str], layers: int) -> list[tuple[float, int]]:
    """(distance the block adds, block) for every feed-forward block, the worst first."""
    import onnx

    from sentiment.building.onnx_export import probing_session

    names = sublayer_outputs(layers)
    reference, quantised = (probing_session(onnx.load(str(path)), names) for path in (float_file, int8_file))
    distance = np.zeros(len(names))
    for ids in tokens.encode(texts):  # one text at a time: no padding in the statistics
        feed = {"input_ids": np.asarray([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), np.int64)}
        for k, (a, b) in enumerate(zip(reference.run(names, feed), quantised.run(names, feed))):
            distance[k] += np.linalg.norm(a - b) / np.linalg.norm(a) / len(texts)
    added = np.diff(np.concatenate([[0.0], distance]))
    return sorted(((float(added[2 * i + 1]), i) for i in range(layers)), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", type=int, default=30, help="training-side texts per file for step 2")
    parser.add_argument("--plans", default="outliers,worst3,worst6,all-ffn-out")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"int8_fallback: {DATA} is absent; it reads its texts from there")

    from sentiment.building.e5_folder import e5_folder
    from sentiment.building.onnx_export import onnx_model, outlier_matmuls, quantize_int8
    from sentiment.runtime.loading import DEFAULT_HEAD, encoder_folder, tokens
    from sentiment.runtime.model_file import Heads
    from sentiment.training.datasets import read_labelled, read_unhappy

    heads = Heads.load(DEFAULT_HEAD)
    folder = encoder_folder(e5_folder(None), heads, DEFAULT_HEAD)
    words = tokens(folder, heads)
    float_file = onnx_model(folder, "onnx")
    work = folder / "onnx" / "fallback-study"
    work.mkdir(exist_ok=True)
    layers = json.loads((folder / "config.json").read_text())["num_hidden_layers"]

    def build(name: str, extra: list[str]) -> Path:
        target = work / f"{name}.onnx"
        if not target.is_file():
            quantize_int8(float_file, target, folder, extra)
        return target

    rng = np.random.default_rng(0)
    probes = []
    for name in PROBES:
        texts = (read_labelled if name.startswith("xlmt") else read_unhappy)(DATA / f"{name}.jsonl").texts
        probes += [texts[i] for i in rng.choice(len(texts), args.per_file, replace=False)]
    outliers = outlier_matmuls(float_file, folder)
    ranking = worst_ffn_blocks(float_file, build("outliers", []), words, probes, layers)
    print(f"outlier MatMuls (float32 for any encoder): {outliers}")
    print("distance each feed-forward block adds in int8 (training-side texts): "
          + ", ".join(f"block {i} {d:.3f}" for d, i in ranking))
    ffn_out = [f"/model/encoder/layer.{i}/output/dense/MatMul" for _, i in ranking]
    plans = {"outliers": [], "worst3": ffn_out[:3], "worst6": ffn_out[:6], "all-ffn-out": ffn_out}

    files = {name: read_labelled(DATA / f"{name}.jsonl") for name in SENTIMENT.values()}
    files.update({name: read_unhappy(DATA / f"{name}.jsonl") for pair in ALERTS.values() for name in pair})
    reference = figures(run_file(float_file, folder, words, heads, files), heads, files)
    print(f"\nfloat32: {reference['speed']:.1f} texts/s")
    chosen = None
    for plan in args.plans.split(","):
        path = build(plan, plans[plan])
        result = figures(run_file(path, folder, words, heads, files), heads, files, reference)
        holds = all(abs(result[f"f1 {lang}"] - reference[f"f1 {lang}"]) <= 0.005
                    and result[f"alert agreement {lang}"] >= 0.995 for lang in SENTIMENT)
        print(f"{plan:<12} float MatMuls {len(set(outliers) | set(plans[plan])):>2}  "
              f"{result['speed']:.1f} texts/s ({result['speed'] / reference['speed']:.2f}x float32)  "
              + "  ".join(f"{key} {value:.4f}" for key, value in result.items() if key != "speed")
              + ("  holds" if holds else ""))
        if holds and (chosen is None or result["speed"] > chosen[1]):
            chosen = (plan, result["speed"])
    print(f"\nchosen: {chosen[0] if chosen else 'none holds: keep float32'}"
          + (f"; int8_float_matmuls = {json.dumps(sorted(plans[chosen[0]]))}" if chosen else ""))


def run_file(path: Path, folder: Path, words, heads, files) -> dict:
    import onnxruntime

    from sentiment.runtime.encoders import cpu_threads
    from sentiment.runtime.scorers import EncoderScorer

    class Encoder:
        def __init__(self):
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = cpu_threads()
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def hidden_states(self, ids, mask):
            return self.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]

    scorer = EncoderScorer(path.stem, words, Encoder(), heads)
    start, count, embedded = time.perf_counter(), 0, {}
    for name, data in files.items():
        embedded[name] = scorer.embed(data.texts)
        count += len(data.texts)
    embedded["speed"] = count / (time.perf_counter() - start)
    return embedded


def figures(embedded: dict, heads, files, reference: dict | None = None) -> dict:
    from sentiment.evaluation.metrics import evaluate
    from sentiment.runtime.detector import raw_probability
    from sentiment.runtime.labels import LABELS

    out = {"speed": embedded["speed"]}
    detector = heads.detector
    for lang, name in SENTIMENT.items():
        predicted = [LABELS[i] for i in heads.sentiment.probabilities(embedded[name]).argmax(1)]
        out[f"f1 {lang}"] = evaluate(name, files[name].labels, predicted).macro_f1
        out[f"_labels {name}"] = predicted
        if reference:
            out[f"label agreement {lang}"] = float(np.mean([a == b for a, b in zip(predicted, reference[f"_labels {name}"])]))
    for lang, names in ALERTS.items():
        decisions = []
        for name in names:
            flagged = [detector.is_unhappy(float(raw), lang) for raw in raw_probability(detector.head, embedded[name])]
            gold = [label == "unhappy" for label in files[name].labels]
            hits = sum(f and g for f, g in zip(flagged, gold))
            out[f"P {name}"], out[f"R {name}"] = hits / max(sum(flagged), 1), hits / max(sum(gold), 1)
            out[f"_alerts {name}"] = flagged
            decisions += [(f, r) for f, r in zip(flagged, reference[f"_alerts {name}"])] if reference else []
        if reference:
            out[f"alert agreement {lang}"] = float(np.mean([a == b for a, b in decisions]))
    if reference is None:
        return out
    return {key: value for key, value in out.items() if not key.startswith("_")}


if __name__ == "__main__":
    main()
