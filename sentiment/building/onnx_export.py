"""Building an encoder's ONNX files: float32 (the same scores as torch, 1.1-2.0x its speed on our
2-core hosts), or with int8 dynamic quantisation (see the benchmark).

The encoder is exported once from its transformers folder to ONNX and cached beside the folder; the
int8 file quantises the matrix multiplications' weights per output channel, ahead of time, and the
activations on the fly, except where an activation has outliers (see ``outlier_matmuls``) and where a
model's head file names MatMuls to keep in float32 (``int8_float_matmuls``: chosen for the adapters
it was trained with, on validation files, by ``benchmarks/int8_fallback.py``).
onnxruntime and onnx come with the ``onnx`` extra. ``sentiment.runtime.onnx`` runs the files.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from sentiment.errors import ModelUnavailable

from .staging import build_atomically

log = logging.getLogger(__name__)

FLOAT_FILE = "encoder.fp32.onnx"
# Sentences that light up the encoder's activation outliers, which sit on fixed channels whatever the
# text: calibration needs no data set, only a few ordinary sentences in the languages we serve.
CALIBRATION = (
    "query: Il servizio clienti non mi ha mai risposto, pessima esperienza.",
    "query: Ordine arrivato in due giorni, tutto perfetto! Grazie mille",
    "query: The app keeps crashing since the last update @support",
    "query: Great coffee and friendly staff, will come back.",
    "query: Qualcuno sa se il negozio di Milano è aperto la domenica?",
    "query: ok",
)


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(f"ONNX runtime not installed ({exc.name}); install it with: "
                               "pip install 'ascolto[onnx]'") from None


def int8_file(float_matmuls: Sequence[str] = ()) -> str:
    """The int8 file's name: it changes with its recipe, so that a cache built by another is not reused."""
    if not float_matmuls:
        return "encoder.int8-mixed.onnx"
    return f"encoder.int8-{hashlib.sha256(chr(10).join(sorted(float_matmuls)).encode()).hexdigest()[:10]}.onnx"


def onnx_model(encoder_dir: Path, runtime: str, float_matmuls: Sequence[str] = ()) -> Path:
    """The ONNX file of a transformers folder for ``runtime``, exported (and quantised) on first use;
    ``float_matmuls``: MatMuls the int8 file keeps in float32 besides those ``outlier_matmuls`` finds."""
    folder = Path(encoder_dir) / "onnx"
    target = folder / (FLOAT_FILE if runtime == "onnx" else int8_file(float_matmuls))
    if not target.is_file():
        float_file = folder / FLOAT_FILE
        # Said once, at INFO on this logger (the CLI shows it): the first run pauses here.
        log.info("building the %s model once (about a minute); later runs load it in seconds", runtime)
        if not float_file.is_file():
            build_atomically(float_file, lambda staged: export_float(Path(encoder_dir), staged))
        if runtime == "onnx-int8":
            build_atomically(target, lambda staged: quantize_int8(float_file, staged, Path(encoder_dir), float_matmuls))
    return target


def export_float(encoder_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    require_onnx()
    model = _LastHiddenState(AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False).eval())
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    # The tracer warns about Python branches in the model ("will produce incorrect results" for other
    # shapes): the exported graph is checked against torch by the tests; a user need not read them.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def quantize_int8(float_file: Path, target: Path, encoder_dir: Path, float_matmuls: Sequence[str] = ()) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights, MatMul only (the embedding table stays float). reduce_range keeps weights to
    # 7 bits: without VNNI, x86's u8 x s8 multiply-add saturates its 16-bit pairs, and on our 2-core
    # AVX2 machine 7 bits agreed with float32 more often (94.9% vs 93.5% of labels). Unsigned 8-bit
    # weights (u8 x u8) agree more still (Italian labels 97.5% vs 96.3% with the care adapters), but
    # u8 x s8 is x86's fast path and speed is what int8 is for; the host of 2026-12-03 could not tell
    # them apart (model card, int8). The MatMuls whose input has outliers stay float32, and those the
    # head file names (the module's docstring).
    named = set()
    if float_matmuls:  # the graph is read again only to check a head file's names
        matmuls = {node.name for node in onnx.load(str(float_file), load_external_data=False).graph.node
                   if node.op_type == "MatMul"}
        named = set(float_matmuls) & matmuls
        unknown = sorted(set(float_matmuls) - matmuls)
        if unknown:  # the head file of another encoder: its list means nothing here
            log.warning("int8: %d of the head file's float MatMuls are not in this encoder (%s, ...); ignored",
                        len(unknown), unknown[0])
    keep = sorted(set(outlier_matmuls(float_file, encoder_dir)) | named)
    # The quantiser advises "pre-processing" on the root logger, which the CLI shows: advice for image
    # models, not for a user's terminal (the graph is checked against float32 by the tests).
    quiet = _Dropping("Please consider to run pre-processing")
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(str(float_file), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)
    finally:
        logging.getLogger().removeFilter(quiet)


class _Dropping(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def outlier_matmuls(float_file: Path, encoder_dir: Path, levels: int = 255) -> list[str]:
    """The MatMuls (with a weight) whose input is too spread for 8 bits, measured on ``CALIBRATION``.

    Dynamic quantisation maps each activation tensor's [min, max] onto 255 steps. A few transformer
    layers carry one huge channel (e5-small: layers 0, 4 and 5 after GELU, max 30-70 against a mean of
    0.1): there the step exceeds the typical value, which rounds to zero. Those layers stay float32,
    a few percent of the compute.
    """
    import onnx
    from transformers import AutoTokenizer

    model = onnx.load(str(float_file))
    weights = {init.name for init in model.graph.initializer}
    probes = {node.name: node.input[0] for node in model.graph.node
              if node.op_type == "MatMul" and node.input[1] in weights}
    session = probing_session(model, probes.values())
    del model
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    names = [output.name for output in session.get_outputs()]
    inputs = set(probes.values())
    spread: dict[str, float] = {}
    for text in CALIBRATION:  # one at a time: no padding to skew the statistics
        ids = np.asarray([tokenizer(text)["input_ids"]], dtype=np.int64)
        values = dict(zip(names, session.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids)})))
        for tensor in inputs:
            x = np.abs(values[tensor])
            spread[tensor] = max(spread.get(tensor, 0.0), float(x.max() / max(x.mean(), 1e-12)))
    return sorted(node for node, tensor in probes.items() if spread[tensor] > levels)


def probing_session(model, tensors: Iterable[str]):
    """A session of ``model`` (an ONNX ModelProto, changed in place) that also returns the named inner
    tensors, for measuring what happens inside the encoder."""
    import onnx
    import onnxruntime

    exposed = {output.name for output in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(tensor) for tensor in dict.fromkeys(tensors)
                              if tensor not in exposed)
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _LastHiddenState(model):
    """The encoder with keyword inputs and one tensor out, as the exporter wants it."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Wrapper()
