"""The ONNX Runtime encoder on a tiny transformer built in the test: same scores as torch in float32,
close in int8 (outliers smoothed, each token on its own scale), and a clear fallback to torch where
ONNX is unavailable."""

import logging
import shutil
import warnings

import numpy as np
import pytest

from sentiment.building.int8 import int8_file, quantize_int8, weight_bits
from sentiment.runtime.encoders import Encoder, TorchEncoder
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.loading import ModelSettings, encoder_scorer, load_scorer
from sentiment.scoring import Scorer

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
TEXTS = ["good", "it was not good at all", "awful hate", "the servizio was ottimo ok", "love love love", ""]


@pytest.fixture
def encoder_with_head(tiny_encoder_dir, tmp_path):
    folder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, folder)  # the ONNX files are cached inside the folder
    rng = np.random.default_rng(3)
    head = LinearHead(rng.normal(size=(3, 16)).astype("float32"), np.zeros(3, "float32"), {"prefix": ""})
    head.save(tmp_path / "head.json")
    return folder, tmp_path / "head.json"


def probabilities(scores):
    return np.array([[s.negative, s.neutral, s.positive] for s in scores])


def test_float32_onnx_gives_the_torch_scores(encoder_with_head):
    folder, head_file = encoder_with_head
    torch_scores = load_scorer(ModelSettings(name=str(folder), head=head_file)).score(TEXTS)
    onnx_scorer = load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="onnx"))
    assert type(onnx_scorer.encoder).__name__ == "OnnxEncoder" and onnx_scorer.name.endswith(":onnx")
    assert isinstance(onnx_scorer, Scorer) and isinstance(onnx_scorer.encoder, Encoder)  # the seams, kept
    assert np.allclose(probabilities(onnx_scorer.score(TEXTS)), probabilities(torch_scores), atol=1e-4)
    assert (folder / "onnx" / "encoder.fp32.onnx").is_file()


def test_int8_onnx_is_close_and_cached(encoder_with_head):
    folder, head_file = encoder_with_head
    torch_embeddings = encoder_scorer(folder, head_file, "torch").embed(TEXTS[:5])
    int8 = load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="onnx-int8"))
    cosine = (int8.embed(TEXTS[:5]) * torch_embeddings).sum(axis=1)
    assert cosine.min() > 0.95
    assert np.allclose(probabilities(int8.score(TEXTS)).sum(axis=1), 1.0, atol=1e-5)
    assert (folder / "onnx" / int8_file((), weight_bits())).is_file()


def test_without_onnx_it_falls_back_to_torch_and_says_why(encoder_with_head, monkeypatch, caplog):
    import sentiment.runtime.onnx as onnx_encoder
    from sentiment.errors import ModelUnavailable

    def missing():
        raise ModelUnavailable("ONNX runtime not installed (onnxruntime); install it with: pip install 'ascolto[onnx]'")

    monkeypatch.setattr(onnx_encoder, "require_onnx", missing)
    folder, head_file = encoder_with_head
    with caplog.at_level(logging.WARNING):
        scorer = load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="onnx"))
    assert type(scorer.encoder) is TorchEncoder
    assert "ONNX runtime unavailable (ONNX runtime not installed (onnxruntime); install it with: pip install " \
           "'ascolto[onnx]'); falling back to torch" in caplog.text


@pytest.fixture
def encoder_with_an_outlier(tiny_encoder_dir, tmp_path):
    """A tiny BERT with one huge channel after layer 1's GELU, as e5-small has in layers 0, 4 and 5."""
    import torch
    from transformers import BertModel

    from helpers.models import tiny_bert_config

    folder = tmp_path / "outlier"
    shutil.copytree(tiny_encoder_dir, folder)  # for its tokenizer
    config = tiny_bert_config()
    config.intermediate_size = 512  # wide enough for one channel to be an outlier, as in e5-small's 1536
    torch.manual_seed(1)
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():
        model.encoder.layer[1].intermediate.dense.bias[7] = 500.0
    model.save_pretrained(folder)
    return folder


def hidden(path, ids, mask):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]


def test_int8_smooths_an_outlier_channel_instead_of_losing_the_others(encoder_with_an_outlier, tmp_path, caplog):
    import onnx
    from transformers import AutoTokenizer

    from sentiment.building.onnx_export import onnx_model

    folder = encoder_with_an_outlier
    with warnings.catch_warnings(record=True) as shown, caplog.at_level(logging.INFO, "sentiment.building"):
        warnings.simplefilter("always")
        exported = onnx_model(folder, "onnx")
    assert not [w for w in shown if "TracerWarning" in w.category.__name__]  # kept out of the user's terminal
    assert "building the onnx model once (about a minute)" in caplog.text
    smoothed, plain = tmp_path / "smoothed.onnx", tmp_path / "plain.onnx"  # the outlier's MatMul in int8 too
    quantize_int8(exported, smoothed, folder, bits=7, outlier_spread=None)
    quantize_int8(exported, plain, folder, bits=7, alpha=0, outlier_spread=None)  # the same without smoothing

    ops = [node.op_type for node in onnx.load(str(smoothed)).graph.node]
    assert "MatMulIntegerToFloat" in ops and "DynamicQuantizeLinear" not in ops
    weighted = {i.name for i in onnx.load(str(smoothed)).graph.initializer}
    assert not [n for n in onnx.load(str(smoothed)).graph.node if n.op_type == "MatMul" and n.input[1] in weighted]
    encoded = AutoTokenizer.from_pretrained(str(folder))(TEXTS[:5], padding=True, return_tensors="np")
    ids, mask = encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64)
    reference = hidden(exported, ids, mask)

    def error(path):
        return float(np.linalg.norm(hidden(path, ids, mask) - reference) / np.linalg.norm(reference))

    assert error(smoothed) < 0.005
    assert error(smoothed) < error(plain) / 4  # the smoothing is what keeps the other channels


def test_int8_keeps_float_the_matmul_whose_input_has_an_outlier_channel(encoder_with_an_outlier, caplog):
    import onnx

    from sentiment.building.onnx_export import onnx_model

    with caplog.at_level(logging.INFO):
        int8 = onnx_model(encoder_with_an_outlier, "onnx-int8")
    assert "pre-processing" not in caplog.text  # no quantiser's advice in the user's terminal
    float_ops = {node.name for node in onnx.load(str(int8)).graph.node if node.op_type == "MatMul"}
    assert "/model/encoder/layer.1/output/dense/MatMul" in float_ops
    assert "/model/encoder/layer.0/output/dense/MatMul" not in float_ops  # quantised, under another name


def test_auto_runs_int8_only_where_it_keeps_float32s_decisions(encoder_with_head, monkeypatch, caplog):
    import sentiment.building.int8 as int8

    folder, head_file = encoder_with_head
    monkeypatch.setattr(int8, "weight_bits", lambda cpu_flags=None: 8)  # a CPU with VNNI
    assert load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="auto")).name.endswith(":onnx-int8")
    monkeypatch.setattr(int8, "weight_bits", lambda cpu_flags=None: 7)  # one without
    with caplog.at_level(logging.INFO, "sentiment.runtime"):
        assert load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="auto")).name.endswith(":onnx")
    assert "runtime auto: float32 (this CPU has no VNNI: int8 would move some alerts)" in caplog.text


def test_an_int8_score_does_not_depend_on_the_texts_in_its_batch(encoder_with_an_outlier):
    from transformers import AutoTokenizer

    from sentiment.building.onnx_export import onnx_model

    folder = encoder_with_an_outlier
    int8 = onnx_model(folder, "onnx-int8")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    alone = tokenizer(["good"], return_tensors="np")
    together = tokenizer(["good", "awful hate " * 20], padding=True, return_tensors="np")
    width = alone["input_ids"].shape[1]
    first = hidden(int8, alone["input_ids"].astype(np.int64), alone["attention_mask"].astype(np.int64))[0]
    shared = hidden(int8, together["input_ids"].astype(np.int64), together["attention_mask"].astype(np.int64))[0][:width]
    # one scale per token: a long neighbour changes nothing (one scale per batch moved it by 5e-5 here)
    assert np.allclose(first, shared, rtol=0, atol=1e-6)


def test_int8_weights_take_8_bits_only_where_the_cpu_cannot_saturate():
    assert weight_bits("flags : fpu sse2 avx2 avx512f avx512_vnni") == 8
    assert weight_bits("flags : fpu sse2 avx2 avx_vnni") == 8
    assert weight_bits("flags : fpu sse2 avx2 fma") == 7  # AVX2's u8 x s8 adds pairs in 16 bits
    assert int8_file((), 8) != int8_file((), 7)  # a cache shared by two CPUs keeps both


def test_the_int8_files_name_changes_with_its_recipe(monkeypatch):
    import sentiment.building.int8 as int8

    before = int8_file((), 8)
    monkeypatch.setattr(int8, "OUTLIER_SPREAD", 1000)  # a cache built by the old recipe must not be reused
    assert int8_file((), 8) != before


def test_int8_keeps_float_the_matmuls_the_head_file_names_for_its_adapters(encoder_with_head, caplog):
    import onnx

    folder, head_file = encoder_with_head
    chosen = ["/model/encoder/layer.0/intermediate/dense/MatMul", "/model/encoder/no-such-layer/MatMul"]
    head = LinearHead.load(head_file)
    head.info["int8_float_matmuls"] = chosen
    head.save(head_file)
    with caplog.at_level(logging.WARNING, "sentiment.building"):
        scorer = load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="onnx-int8"))
    assert len(scorer.score(TEXTS)) == len(TEXTS)
    built = folder / "onnx" / int8_file(chosen, weight_bits())
    assert built.is_file() and built.name != int8_file((), weight_bits())  # another recipe, another cached file
    float_ops = {node.name for node in onnx.load(str(built)).graph.node if node.op_type == "MatMul"}
    assert "/model/encoder/layer.0/intermediate/dense/MatMul" in float_ops
    assert "/model/encoder/layer.1/intermediate/dense/MatMul" not in float_ops  # quantised
    assert "1 of the head file's float MatMuls are not in this encoder (/model/encoder/no-such-layer/MatMul" \
        in caplog.text


SATURATION_PROBE = """
import json, numpy as np, onnxruntime
from onnx import TensorProto, helper, numpy_helper
from sentiment.building.int8 import weight_bits

def product(weight_code):
    # a row of the largest u8 activations times a column of equal weights, in ORT's integer MatMul
    a = np.full((4, 64), 255, np.uint8)
    b = numpy_helper.from_array(np.full((64, 16), weight_code, np.int8), "b")
    node = helper.make_node("MatMulIntegerToFloat", ["a", "b", "one", "one"], ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("a", TensorProto.UINT8, [4, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])],
                              [b, numpy_helper.from_array(np.float32(1), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return float(session.run(None, {"a": a})[0][0, 0])

print(json.dumps({"w8": product(127), "w7": product(63), "bits": weight_bits()}))
"""


def test_on_an_avx2_cpu_8bit_weights_saturate_and_the_product_takes_7(tmp_path):
    """The premise of ``weight_bits``, on ONNX Runtime's own AVX2 kernels: the benchmarks' AVX2 host
    (benchmarks/avx2_host: CPUID of this CPU with AVX-512 and VNNI hidden) runs a u8 x s8 product in
    which 8-bit weights overflow the 16-bit pair sums and 7-bit ones do not, and Ascolto, reading the
    same CPU, takes 7 bits."""
    import json
    import os
    import platform
    import subprocess
    import sys
    from pathlib import Path

    from helpers.paths import REPO

    if platform.machine() != "x86_64" or not shutil.which(os.environ.get("CC", "cc")):
        pytest.skip("needs an x86-64 CPU and a C compiler")
    if "cpuid_fault" not in Path("/proc/cpuinfo").read_text().split():
        pytest.skip("this CPU or kernel has no CPUID faulting: the AVX2 host cannot be imitated")
    run = subprocess.run([str(REPO / "benchmarks" / "avx2_host" / "run.sh"), sys.executable, "-c", SATURATION_PROBE],
                         cwd=REPO, env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    avx2 = json.loads(run.stdout)
    assert avx2["w7"] == 255 * 63 * 64  # exact: a pair of products is at most 32,130
    assert avx2["w8"] < 255 * 127 * 64 * 0.6  # each pair of 64,770 clipped to 32,767
    assert avx2["bits"] == 7


def test_7bit_activations_keep_every_code_under_128(encoder_with_an_outlier, tmp_path):
    """The benchmark's a7w8 recipe: the codes the integer MatMuls read stay in 0..127 (so that a
    pair of products with 8-bit weights fits AVX2's 16 bits), and the encoder still works."""
    import onnx
    from transformers import AutoTokenizer

    from sentiment.building.int8 import probing_session
    from sentiment.building.onnx_export import onnx_model

    folder = encoder_with_an_outlier
    exported = onnx_model(folder, "onnx")
    target = tmp_path / "a7.onnx"
    quantize_int8(exported, target, folder, bits=8, activation_bits=7)
    model = onnx.load(str(target))
    codes = sorted({n.input[0] for n in model.graph.node if n.op_type == "MatMulIntegerToFloat"})
    session = probing_session(model, codes)
    encoded = AutoTokenizer.from_pretrained(str(folder))(TEXTS[:5], padding=True, return_tensors="np")
    feeds = {"input_ids": encoded["input_ids"].astype(np.int64), "attention_mask": encoded["attention_mask"].astype(np.int64)}
    values = session.run(codes + ["last_hidden_state"], feeds)
    assert len(codes) >= 6 and all(v.dtype == np.uint8 and v.max() <= 127 for v in values[:-1])
    assert max(int(v.max()) for v in values[:-1]) >= 120  # the 7 bits are used, not wasted
    reference = hidden(exported, feeds["input_ids"], feeds["attention_mask"])
    assert np.linalg.norm(values[-1] - reference) / np.linalg.norm(reference) < 0.02
