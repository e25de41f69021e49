"""Text that comes from outside: files in whatever encoding a shop's export tool wrote, and fields
that end up in email headers or the database.

- ``open_lines`` reads a text file line by line: UTF-8 with or without a BOM, UTF-16 (by its BOM),
  and a legacy Windows-1252 / Latin-1 export (no valid UTF-8 in it at all). In a UTF-8 file, a line
  with bytes that are not UTF-8 keeps them as ``\\udcxx`` escapes: ``undecodable`` finds them, so that
  the line is reported by number and skipped while the rest is read.
- ``one_line`` makes a name header-safe (no CR, LF or other control characters).
- ``clean`` replaces lone UTF-16 surrogates (``"\\ud800"`` in JSON), which SQLite cannot store.

Both packages read such files, and surveys may not import listener: it lives here.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
LEGACY = "cp1252"


def detect_encoding(path: Path, sample_bytes: int = 4096) -> str:
    """utf-8-sig, utf-16 (by its BOM), utf-16-le/-be without one (by where its NUL bytes fall), utf-8,
    or cp1252 when the file has bytes that are not UTF-8 and not one valid non-ASCII UTF-8 sequence
    (an export from a legacy Windows tool)."""
    with Path(path).open("rb") as handle:
        head = handle.read(sample_bytes)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if (utf16 := _utf16_by_nuls(head)) is not None:
            return utf16
        handle.seek(0)
        valid_non_ascii = invalid = False
        for line in handle:
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                valid_non_ascii = True
                break
            except UnicodeDecodeError:
                invalid = True
    return LEGACY if invalid and not valid_non_ascii else "utf-8"


def _utf16_by_nuls(head: bytes) -> str | None:
    """UTF-16 written without a byte-order mark (some Windows tools do): text in Latin letters puts
    a NUL in every other byte, odd ones in little-endian, even ones in big-endian. No text file in
    UTF-8 or a legacy code page has NULs in half its bytes."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    odd, even = head[1:2 * pairs:2].count(0), head[0:2 * pairs:2].count(0)
    if odd >= 0.4 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


def open_lines(path: Path) -> tuple[Iterator[str], str]:
    """The file's lines (with their line ends) and the encoding read; see the module docstring."""
    encoding = detect_encoding(path)
    # UTF-8 keeps a bad byte as an escape, so that its line can be reported; a damaged UTF-16 or
    # legacy file shows U+FFFD where a character could not be read.
    errors = "surrogateescape" if encoding == "utf-8" else "replace"

    def lines() -> Iterator[str]:
        with Path(path).open(encoding=encoding, errors=errors, newline="") as handle:
            yield from handle

    return lines(), encoding


def undecodable(text: str) -> bool:
    """Does this line hold bytes that were not valid in the file's encoding?"""
    return bool(_ESCAPED_BYTE.search(text))


def undecodable_problem(text: str) -> str:
    byte = ord(_ESCAPED_BYTE.search(text).group()) - 0xDC00
    return f"not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"


def clean(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD: storable, and visibly damaged where it was."""
    return _SURROGATE.sub("\ufffd", text)


def one_line(text: str) -> str:
    """A name or subject fit for an email header: control characters become spaces, runs collapse."""
    return " ".join(_CONTROL.sub(" ", clean(text)).split())


def csv_rows(lines: Iterator[str]) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row, None) per CSV row, or (line number, None, problem) for a row that cannot
    be read: a NUL byte or broken quoting (that row is lost, the next ones are read), or bytes that
    were not text. A row with more cells than columns has them under the key None."""
    import csv

    reader = csv.DictReader(lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, None, f"unreadable CSV ({exc})"
            continue
        bad = next((v for v in row.values() if isinstance(v, str) and undecodable(v)), None)
        yield (reader.line_num, None, undecodable_problem(bad)) if bad is not None else (reader.line_num, row, None)
