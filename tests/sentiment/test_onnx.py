"""The ONNX Runtime encoder on a tiny transformer built in the test: same scores as torch in float32,
close in int8, and a clear fallback to torch where ONNX is unavailable."""

import logging
import shutil
import warnings

import numpy as np
import pytest

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
    assert (folder / "onnx" / "encoder.int8-mixed.onnx").is_file()


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


def test_int8_keeps_float_the_matmuls_whose_input_has_an_outlier_channel(tiny_encoder_dir, tmp_path, caplog):
    import onnx
    import torch
    from transformers import BertModel

    from helpers.models import tiny_bert_config
    from sentiment.building.onnx_export import onnx_model, outlier_matmuls

    folder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, folder)  # for its tokenizer
    config = tiny_bert_config()
    config.intermediate_size = 512  # wide enough for one channel to be an outlier, as in e5-small's 1536
    torch.manual_seed(1)
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():  # one huge channel after layer 1's GELU, as e5-small has in layers 0, 4 and 5
        model.encoder.layer[1].intermediate.dense.bias[7] = 500.0
    model.save_pretrained(folder)

    with warnings.catch_warnings(record=True) as shown, caplog.at_level(logging.INFO, "sentiment.building"):
        warnings.simplefilter("always")
        exported = onnx_model(folder, "onnx")
    assert not [w for w in shown if "TracerWarning" in w.category.__name__]  # kept out of the user's terminal
    assert "building the onnx model once (about a minute)" in caplog.text
    kept = outlier_matmuls(exported, folder)

    assert kept == ["/model/encoder/layer.1/output/dense/MatMul"]
    with caplog.at_level(logging.INFO):
        int8_file = onnx_model(folder, "onnx-int8")
    assert "pre-processing" not in caplog.text  # the quantiser's advice, kept out of the user's terminal
    float_ops = {node.name for node in onnx.load(str(int8_file)).graph.node if node.op_type == "MatMul"}
    assert "/model/encoder/layer.1/output/dense/MatMul" in float_ops
    assert "/model/encoder/layer.0/output/dense/MatMul" not in float_ops  # quantised, under another name


def test_int8_keeps_float_the_matmuls_the_head_file_names_for_its_adapters(encoder_with_head, caplog):
    import onnx

    from sentiment.building.onnx_export import int8_file

    folder, head_file = encoder_with_head
    chosen = ["/model/encoder/layer.0/intermediate/dense/MatMul", "/model/encoder/no-such-layer/MatMul"]
    head = LinearHead.load(head_file)
    head.info["int8_float_matmuls"] = chosen
    head.save(head_file)
    with caplog.at_level(logging.WARNING, "sentiment.building"):
        scorer = load_scorer(ModelSettings(name=str(folder), head=head_file, runtime="onnx-int8"))
    assert len(scorer.score(TEXTS)) == len(TEXTS)
    built = folder / "onnx" / int8_file(chosen)
    assert built.is_file() and built.name != int8_file()  # another recipe, another cached file
    float_ops = {node.name for node in onnx.load(str(built)).graph.node if node.op_type == "MatMul"}
    assert "/model/encoder/layer.0/intermediate/dense/MatMul" in float_ops
    assert "/model/encoder/layer.1/intermediate/dense/MatMul" not in float_ops  # quantised
    assert "1 of the head file's float MatMuls are not in this encoder (/model/encoder/no-such-layer/MatMul" \
        in caplog.text
