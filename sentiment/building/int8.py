"""The encoder's int8 ONNX file: every token's activations on its own 8-bit scale, activation
outliers moved into the weights, weights per output channel.

Why this recipe and not ONNX Runtime's ``quantize_dynamic`` (model card, int8): dynamic quantisation
gives one activation scale to a whole batch, so a few outlier channels (e5-small carries values of
30-70 after some GELUs, against a typical 0.1) and the longest text of the batch set every text's
step, and a text's int8 score depends on the texts it shares a batch with. With the care adapters
that moved 2% of sentiment labels and 1-2% of alert decisions away from float32's. Here:

- each token gets its own activation scale (``QuantizeLinear`` along the rows of a 2-D view), so a
  text scores the same in any batch;
- SmoothQuant: ``x W = (x / s) (s W)`` with ``s = sqrt(max|x| / max|W|)`` per input channel, the
  maxima of ``x`` measured on ``CALIBRATION``, so no channel dominates a token's scale and the
  weights take half of the spread;
- GELU outputs, never below -0.17, are shifted to be non-negative and use all 256 levels (the
  shift's product with the weights is a constant, folded into the bias that follows);
- weights per output channel, 8 bits on CPUs with VNNI and 7 elsewhere: without VNNI, x86's
  u8 x s8 instruction adds pairs of products in 16 bits, which 8-bit weights can overflow;
- a MatMul whose input spreads over more than ``OUTLIER_SPREAD`` times its mean (e5-small: the
  second feed-forward MatMul of layers 0, 4 and 5) stays float32, a few percent of the compute: with
  it, 8-bit weights keep float32's decisions on validation, and without it they do not quite (model
  card, int8). So do the MatMuls a head file names (``int8_float_matmuls``).

Only standard ONNX ops and ONNX Runtime's ``MatMulIntegerToFloat``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# How the spread is shared between activations and weights (SmoothQuant's alpha; 0.5 is its
# default and what the model card measured; 0 turns smoothing off).
SMOOTHING = 0.5
OUTLIER_SPREAD = 255  # max |x| over mean |x| on CALIBRATION beyond which a MatMul's input stays float32
GELU_MIN = 0.17  # the exact GELU's minimum is -0.1700 (at x = -0.75)
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
# Sentences that light up the encoder's activation outliers, which sit on fixed channels whatever the
# text: int8's smoothing needs no data set, only a few ordinary sentences in the languages we serve
# (measured: these give the same drift from float32 as 600 training-side texts; model card, int8).
CALIBRATION = (
    "query: Il servizio clienti non mi ha mai risposto, pessima esperienza.",
    "query: Ordine arrivato in due giorni, tutto perfetto! Grazie mille",
    "query: The app keeps crashing since the last update @support",
    "query: Great coffee and friendly staff, will come back.",
    "query: Qualcuno sa se il negozio di Milano è aperto la domenica?",
    "query: ok",
)


def weight_bits(cpu_flags: str | None = None) -> int:
    """8 where the CPU multiplies u8 x s8 into 32 bits without saturating (VNNI), else 7."""
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpu_flags = ""
    words = set(cpu_flags.split())
    return 8 if any(flag in words for flag in _VNNI_FLAGS) else 7


def int8_file(float_matmuls: Sequence[str] = (), bits: int = 7) -> str:
    """The int8 file's name: it changes with its recipe (this module's settings, the weight bits, the
    MatMuls kept float32), so that a cache built by another recipe, or on a CPU of the other kind, is
    never reused."""
    recipe = repr((SMOOTHING, OUTLIER_SPREAD, GELU_MIN, CALIBRATION, bits, sorted(float_matmuls)))
    return f"encoder.int8-token-w{bits}-{hashlib.sha256(recipe.encode()).hexdigest()[:10]}.onnx"


def activation_statistics(float_file: Path, encoder_dir: Path, texts: Sequence[str]
                          ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """For each weighted MatMul's input, over ``texts`` (each scored alone: no padding in the
    statistics): the largest |value| of each channel, and the largest ratio of a text's max |value|
    to its mean |value| (the spread 8 bits must cover)."""
    import onnx
    from transformers import AutoTokenizer

    model = onnx.load(str(float_file))
    weights = {init.name for init in model.graph.initializer}
    inputs = sorted({node.input[0] for node in model.graph.node if node.op_type == "MatMul" and node.input[1] in weights})
    session = probing_session(model, inputs)
    del model
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    names = [output.name for output in session.get_outputs()]
    maxima: dict[str, np.ndarray] = {}
    spread: dict[str, float] = {}
    for text in texts:
        ids = np.asarray([tokenizer(text, truncation=True, max_length=512)["input_ids"]], dtype=np.int64)
        values = dict(zip(names, session.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids)})))
        for tensor in inputs:
            magnitude = np.abs(values[tensor]).reshape(-1, values[tensor].shape[-1])
            maxima[tensor] = np.maximum(maxima.get(tensor, 0.0), magnitude.max(axis=0))
            spread[tensor] = max(spread.get(tensor, 0.0), float(magnitude.max() / max(magnitude.mean(), 1e-12)))
    return maxima, spread


def quantize_int8(float_file: Path, target: Path, encoder_dir: Path, float_matmuls: Sequence[str] = (),
                  bits: int | None = None, alpha: float = SMOOTHING, outlier_spread: float | None = OUTLIER_SPREAD,
                  activation_bits: int = 8) -> None:
    """Write ``target``: the float32 file with its weighted MatMuls in int8 (the module's recipe);
    ``outlier_spread`` None quantises the outliers' MatMuls too; ``activation_bits`` 7 is a recipe
    the benchmark compares (it keeps AVX2's pair sums in 16 bits too, but moves more decisions)."""
    import onnx

    # Measured first: the probing session holds a copy of the float model, freed before the one
    # rewritten here is loaded (two at once would double the build's peak memory).
    maxima, spread = activation_statistics(float_file, encoder_dir, CALIBRATION)
    model = onnx.load(str(float_file))
    matmuls = {node.name for node in model.graph.node if node.op_type == "MatMul"}
    unknown = sorted(set(float_matmuls) - matmuls)
    if unknown:  # the head file of another encoder: its list means nothing here
        log.warning("int8: %d of the head file's float MatMuls are not in this encoder (%s, ...); ignored",
                    len(unknown), unknown[0])
    keep = set(float_matmuls) | set(outlier_matmuls(model, spread, outlier_spread))
    _Rewrite(model, maxima, bits or weight_bits(), alpha, keep, activation_bits).apply()
    onnx.save(model, str(target))


def outlier_matmuls(model, spread: dict[str, float], limit: float | None = OUTLIER_SPREAD) -> list[str]:
    """The weighted MatMuls of ``model`` whose input spreads beyond ``limit`` (``activation_statistics``)."""
    if limit is None:
        return []
    return sorted(node.name for node in model.graph.node
                  if node.op_type == "MatMul" and spread.get(node.input[0], 0.0) > limit)


def probing_session(model, tensors: Iterable[str]):
    """A session of ``model`` (an ONNX ModelProto, changed in place) that also returns the named inner
    tensors, for measuring what happens inside the encoder."""
    import onnx
    import onnxruntime

    exposed = {output.name for output in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(tensor) for tensor in dict.fromkeys(tensors)
                              if tensor not in exposed)
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


class _Rewrite:
    """Replaces each weighted MatMul ``y = x W`` (W a [K, N] initializer) by
    ``y = MatMulIntegerToFloat(q(x / s + c), q(s W)) * row_scale`` and folds ``c (s W)`` into the bias."""

    def __init__(self, model, maxima: dict[str, np.ndarray], bits: int, alpha: float, keep: set[str],
                 activation_bits: int = 8):
        self.model, self.maxima, self.bits, self.alpha = model, maxima, bits, alpha
        self.activation_bits = activation_bits
        graph = model.graph
        self.initializers = {init.name: init for init in graph.initializer}
        self.groups: dict[str, list] = {}  # input tensor -> the MatMuls reading it (Q, K and V share one)
        for node in graph.node:
            if node.op_type == "MatMul" and node.input[1] in self.initializers and node.name not in keep:
                self.groups.setdefault(node.input[0], []).append(node)
        self.added: list = []  # new initializers
        self.shapes: list = []  # declared output shapes, so that ORT still fuses what follows
        self.corrections: dict[str, np.ndarray] = {}  # MatMul output -> constant to take off its bias

    def apply(self) -> None:
        from onnx import helper

        graph = self.model.graph
        before, replaced = {}, {}
        for tensor, nodes in self.groups.items():
            scales = self._smoothing(tensor, nodes)
            before[tensor] = self._quantised_input(tensor, scales)
            for node in nodes:
                replaced[node.name] = self._integer_matmul(node, tensor, scales)
        nodes = []
        for graph_input in graph.input:  # a MatMul reading a graph input: none in BERT
            nodes += before.pop(graph_input.name, [])
        for node in graph.node:
            if node.name in replaced:
                nodes += replaced[node.name]
                continue
            nodes.append(node)
            for output in node.output:
                nodes += before.pop(output, [])
        self._fold_corrections(nodes)
        used = {name for node in nodes for name in node.input}
        kept = [init for init in graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(kept + self.added)
        del graph.node[:]
        graph.node.extend(nodes)
        graph.value_info.extend(self.shapes)
        if not any(opset.domain == "com.microsoft" for opset in self.model.opset_import):
            self.model.opset_import.append(helper.make_opsetid("com.microsoft", 1))

    def _constant(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.added.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def _weight(self, node) -> np.ndarray:
        from onnx import numpy_helper

        return numpy_helper.to_array(self.initializers[node.input[1]])

    def _smoothing(self, tensor: str, nodes) -> np.ndarray:
        """s per input channel: activations divided by it, weights' rows multiplied by it."""
        width = self._weight(nodes[0]).shape[0]
        if self.alpha == 0 or tensor not in self.maxima:
            return np.ones(width, np.float32)
        weight_max = np.max([np.abs(self._weight(node)).max(axis=1) for node in nodes], axis=0)
        scales = np.maximum(self.maxima[tensor], 1e-5) ** self.alpha / np.maximum(weight_max, 1e-5) ** (1 - self.alpha)
        return np.clip(scales, 1e-3, 1e3).astype(np.float32)

    def _is_gelu(self, tensor: str) -> bool:
        return "intermediate_act_fn" in tensor  # the GELU's output in transformers' BERT-family exports

    def _quantised_input(self, tensor: str, scales: np.ndarray) -> list:
        """Nodes that turn ``tensor`` [batch, tokens, K] into u8 codes (same shape) and a row scale
        [batch, tokens, 1]: symmetric around 128, or, for GELU outputs, shifted onto 0..255."""
        from onnx import helper, numpy_helper

        p = tensor + "/int8"
        width = len(scales)
        nodes = [helper.make_node("Mul", [tensor, self._constant(p + "/inverse_smoothing", (1 / scales).astype(np.float32))],
                                  [p + "/smoothed"])]
        current = p + "/smoothed"
        if self._is_gelu(tensor):
            nodes.append(helper.make_node("Add", [current, self._constant(p + "/shift", (GELU_MIN / scales).astype(np.float32))],
                                          [p + "/shifted"]))
            current = p + "/shifted"
        nodes += [helper.make_node("Shape", [current], [p + "/shape"]),
                  helper.make_node("Slice", [p + "/shape", self._constant(p + "/0", np.array([0])),
                                             self._constant(p + "/-1", np.array([-1]))], [p + "/rows_shape"]),
                  helper.make_node("Concat", [p + "/rows_shape", self._constant(p + "/1", np.array([1]))],
                                   [p + "/scale_shape"], axis=0),
                  helper.make_node("Reshape", [current, self._constant(p + "/2d", np.array([-1, width]))], [p + "/rows"])]
        if self._is_gelu(tensor):  # non-negative: 0..255 at 8 bits, zero point 0
            nodes.append(helper.make_node("ReduceMax", [p + "/rows"], [p + "/extent"], axes=[1], keepdims=0))
            levels, zero = 2 ** self.activation_bits - 1, 0
        else:  # symmetric: -127..127 stored as 1..255 around 128 at 8 bits
            nodes += [helper.make_node("ReduceMax", [p + "/rows"], [p + "/max"], axes=[1], keepdims=0),
                      helper.make_node("ReduceMin", [p + "/rows"], [p + "/min"], axes=[1], keepdims=0),
                      helper.make_node("Neg", [p + "/min"], [p + "/-min"]),
                      helper.make_node("Max", [p + "/max", p + "/-min"], [p + "/extent"])]
            levels, zero = 2 ** (self.activation_bits - 1) - 1, 2 ** (self.activation_bits - 1)
        nodes += [helper.make_node("Max", [p + "/extent", self._constant(p + "/tiny", np.float32(1e-8))], [p + "/range"]),
                  helper.make_node("Div", [p + "/range", self._constant(p + "/levels", np.float32(levels))], [p + "/scale"]),
                  helper.make_node("Shape", [p + "/scale"], [p + "/rows_count"]),
                  helper.make_node("ConstantOfShape", [p + "/rows_count"], [p + "/zeros"],
                                   value=numpy_helper.from_array(np.array([zero], np.uint8))),
                  helper.make_node("QuantizeLinear", [p + "/rows", p + "/scale", p + "/zeros"], [p + "/codes"], axis=0)]
        self._constant(p + "/zero", np.uint8(zero))  # the same, for MatMulIntegerToFloat
        nodes += [helper.make_node("Reshape", [p + "/scale", p + "/scale_shape"], [p + "/row_scale"]),
                  helper.make_node("Reshape", [p + "/codes", p + "/shape"], [p + "/u8"])]
        return nodes

    def _integer_matmul(self, node, tensor: str, scales: np.ndarray) -> list:
        from onnx import TensorProto, helper

        p, w = tensor + "/int8", node.input[1]
        weight = self._weight(node) * scales[:, None]
        limit = 2 ** (self.bits - 1) - 1
        step = np.maximum(np.abs(weight).max(axis=0), 1e-12) / limit  # per output channel
        codes = np.clip(np.round(weight / step), -limit, limit).astype(np.int8)
        if self._is_gelu(tensor):
            shift = (GELU_MIN / scales).astype(np.float32)
            self.corrections[node.output[0]] = shift @ (codes.astype(np.float32) * step)
        out = node.output[0]
        self.shapes.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", "tokens", weight.shape[1]]))
        return [helper.make_node("MatMulIntegerToFloat",
                                 [p + "/u8", self._constant(w + "/int8", codes), self._constant(w + "/one", np.float32(1)),
                                  self._constant(w + "/step", step.astype(np.float32)), p + "/zero",
                                  self._constant(w + "/zero", np.int8(0))],
                                 [out + "/unscaled"], domain="com.microsoft", name=node.name + "/int8"),
                helper.make_node("Mul", [out + "/unscaled", p + "/row_scale"], [out])]

    def _fold_corrections(self, nodes: list) -> None:
        """The GELU shift added ``c (s W)`` to each such MatMul's output: take it off the bias Add
        that follows, or, in an encoder without one, subtract it in a node of its own."""
        from onnx import helper, numpy_helper

        for node in nodes:
            if node.op_type != "Add":
                continue
            for out, bias in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
                if out in self.corrections and bias in self.initializers:
                    folded = numpy_helper.to_array(self.initializers[bias]) - self.corrections.pop(out)
                    self.initializers[bias].CopyFrom(numpy_helper.from_array(folded.astype(np.float32), bias))
        for index, node in reversed(list(enumerate(nodes))):
            out = node.output[0]
            if node.op_type == "Mul" and out in self.corrections:
                node.output[0] = out + "/shifted"
                nodes.insert(index + 1, helper.make_node("Sub", [out + "/shifted", self._constant(
                    out + "/shift_product", self.corrections.pop(out).astype(np.float32))], [out]))
