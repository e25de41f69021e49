"""LoRA fine-tuning on a tiny encoder: it learns, it saves compactly, and merging changes nothing."""

import shutil

import numpy as np
import pytest
import torch

from helpers.models import blank_scorer
from sentiment.building.adapters import adapted_folder, load_adapter, merge, save_adapter
from sentiment.errors import BadDataset
from sentiment.runtime.loading import encoder_folder, encoder_scorer
from sentiment.runtime.model_file import Heads
from sentiment.training.datasets import LabelledTexts
from sentiment.training.finetune import adapter_arrays, attach, finetune, lora_layers

TEXTS = ["awful", "hate", "bad", "ok", "the", "it", "good", "great", "love"] * 4
LABELS = (["negative"] * 3 + ["neutral"] * 3 + ["positive"] * 3) * 4


def test_merged_weights_give_the_same_outputs_as_the_adapters(tiny_encoder_dir):
    scorer = blank_scorer(tiny_encoder_dir)
    inputs = scorer.tokens.tokenizer(["good", "it was awful"], padding=True, return_tensors="pt")
    adapted = attach(scorer.encoder.model, rank=4, alpha=8)
    layers = lora_layers(adapted)
    torch.manual_seed(0)
    for layer in layers.values():
        layer.lora_B["default"].weight.data.normal_(0, 0.1)  # as if trained
    with torch.no_grad():
        with_adapters = scorer.encoder.model(**inputs).last_hidden_state
    adapter = adapter_arrays(adapted)
    plain = blank_scorer(tiny_encoder_dir)
    merge(plain.encoder.model, adapter, 8 / 4)
    with torch.no_grad():
        merged = plain.encoder.model(**inputs).last_hidden_state
    assert len(layers) == 2 * 6  # two blocks, six linear layers each
    assert torch.allclose(with_adapters, merged, atol=1e-5)


def test_finetuning_learns_and_round_trips_through_the_cache(tiny_encoder_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_encoder_dir, base)
    # Distinct training texts (repeats and validation texts are left out of training), same words.
    train = LabelledTexts("toy", [" ".join([t] * (1 + i // 9)) for i, t in enumerate(TEXTS)], LABELS)
    data = LabelledTexts("toy-val", TEXTS[:9], LABELS[:9])
    result = finetune(blank_scorer(base), [train], [data], epochs=8, rank=4, lr=1e-2, head_lr=5e-2, batch_size=8)
    best = max(np.mean([r.macro_f1 for r in epoch]) for epoch in result.validation)
    assert best > 0.9 and result.validation[result.epoch - 1][0].macro_f1 == best
    save_adapter(tmp_path / "toy.safetensors", result.adapter, result.scale)
    assert (tmp_path / "toy.safetensors").stat().st_size < 40_000
    adapter, scale = load_adapter(tmp_path / "toy.safetensors")
    assert scale == result.scale and set(adapter) == set(result.adapter)
    result.head.info.update(adapter="toy.safetensors", prefix="")
    result.head.save(tmp_path / "toy.json")
    folder = encoder_folder(base, Heads.load(tmp_path / "toy.json"), tmp_path / "toy.json")
    assert folder != base and folder == adapted_folder(base, tmp_path / "toy.safetensors")  # cached
    scorer = encoder_scorer(base, tmp_path / "toy.json", "toy")
    assert [s.label for s in scorer.score(["awful", "the", "love"])] == ["negative", "neutral", "positive"]


def test_training_leaves_out_validation_texts_and_repeats():
    from sentiment.training.datasets import training_set

    train = [LabelledTexts("a", ["good", "bad", "good", "meh"], ["positive", "negative", "positive", "neutral"]),
             LabelledTexts("b", ["meh", "fine", "awful"], ["neutral", "positive", "negative"])]
    val = [LabelledTexts("v", ["bad", "fine"], ["negative", "positive"])]

    kept, dropped = training_set(train, val)

    assert dropped == 4  # "bad" and "fine" are validation texts; "good" and "meh" are repeats
    assert [(d.name, d.texts, d.labels) for d in kept] == [("a", ["good", "meh"], ["positive", "neutral"]),
                                                          ("b", ["awful"], ["negative"])]
    with pytest.raises(BadDataset, match="no training texts left"):
        training_set(val, val)


def test_class_weights_make_each_class_count_equally():
    from sentiment.training.heads import class_weights

    labels = np.array([0] * 10 + [1] * 30 + [2] * 60)  # negative, neutral, positive
    weights = class_weights(labels)

    per_class_total = np.bincount(labels) * weights
    assert np.allclose(per_class_total, per_class_total[0])
    assert np.allclose(class_weights(np.array([0, 1, 2, 0, 1, 2])), 1.0)  # balanced: unchanged
    assert class_weights(np.array([0, 0, 2]))[1] == 0.0  # an absent class has no weight to give


def test_two_heads_learn_together_on_one_encoder_and_load_as_one_model(tiny_encoder_dir, tmp_path):
    """The multi-task recipe on the tiny encoder: sentiment and the detector share the adapters; the
    saved file loads as a scorer whose scores carry P(unhappy)."""
    from sentiment.runtime.detector import Detector, raw_probability
    from sentiment.training.calibration import fit_detector
    from sentiment.training.datasets import read_unhappy
    from sentiment.training.recipe import load_recipe

    def write(name, texts, label):
        (tmp_path / name).write_text("".join(f'{{"text": "{t}", {label(i)}}}\n' for i, t in enumerate(texts)))

    doubled = [f"{t} {t}" for t in TEXTS[:9]]  # training texts, distinct from the validation ones
    sentiment = lambda i: f'"label": "{LABELS[i]}"'  # noqa: E731
    complaint = lambda i: f'"complaint": {str(LABELS[i] == "negative").lower()}'  # noqa: E731
    write("s_train.jsonl", doubled, sentiment)
    write("s_val.jsonl", TEXTS[:9], sentiment)
    write("c_train.jsonl", doubled, complaint)
    write("c_val.jsonl", TEXTS[:9], complaint)
    (tmp_path / "r.toml").write_text('epochs = 8\nrank = 4\n[[tasks]]\nname = "sentiment"\ntrain = ["s_train.jsonl"]\n'
                                     'validation = ["s_val.jsonl"]\n[[tasks]]\nname = "detector"\n'
                                     'train = ["c_train.jsonl"]\nvalidation = ["c_val.jsonl"]\n'
                                     'draws = { c_train = 18 }\nweight = 2.0\n[calibration]\nen = "c_val.jsonl"\n')
    recipe = load_recipe(tmp_path / "r.toml", tmp_path)
    assert [t.name for t in recipe.tasks] == ["sentiment", "detector"] and recipe.tasks[1].draws == {"c_train": 18}
    base = tmp_path / "base"
    shutil.copytree(tiny_encoder_dir, base)
    encoder = blank_scorer(base)
    from sentiment.training.finetune import finetune_tasks

    result = finetune_tasks(encoder, recipe.tasks, epochs=8, rank=4, lr=1e-2, head_lr=5e-2, batch_size=8)
    assert set(result.heads) == {"sentiment", "detector"} and len(result.validation[0]) == 2
    complaints = read_unhappy(tmp_path / "c_val.jsonl")
    raw = raw_probability(result.heads["detector"], encoder.embed(complaints.texts))
    detector = fit_detector(result.heads["detector"], {"en": (raw, np.array([label == "unhappy" for label in complaints.labels]))})
    save_adapter(tmp_path / "m.safetensors", result.adapter, result.scale)
    result.head.info.update(adapter="m.safetensors", prefix="")
    result.head.save(tmp_path / "m.json", extra={"detector": detector.to_dict()})
    loaded = Detector.load(tmp_path / "m.json")
    assert loaded.thresholds["balanced"]["en"] == detector.thresholds["balanced"]["en"]
    scorer = encoder_scorer(base, tmp_path / "m.json", "m")
    assert scorer.detector.thresholds == loaded.thresholds
    awful, love = scorer.score(["awful", "love"])
    assert awful.unhappy > love.unhappy and loaded.is_unhappy(awful.unhappy, "en")
