"""The file import collector: brand mentions exported as JSON Lines or CSV.

Columns: id, source, author, text, created_at (ISO 8601 with a zone) are required; url, lang and
brand are optional. ``read_items`` only reads; ``item_to_row`` is pure; the pipeline saves.
A malformed row is reported with its line number and skipped; the rest of the file is saved.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from surveys.timestamps import iso, parse_timestamp

from .brands import is_excluded, match_brand
from .config import Brand
from .errors import AscoltoError
from .language import guess_language
from .store import MentionRow

REQUIRED = ("id", "source", "author", "text", "created_at")
_SOURCE = re.compile(r"^[a-z0-9_.-]{1,32}$")


class BadItem(ValueError):
    """The item cannot become a mention (a malformed or incomplete row)."""


class NotAboutBrand(ValueError):
    """The item is well-formed but about none of the configured brands (or excluded)."""


@dataclass(frozen=True)
class RawItem:
    line: int
    data: dict


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


def read_items(path: Path) -> Iterator[RawItem | Problem]:
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AscoltoError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        if path.suffix.lower() == ".csv":
            yield from _csv_items(handle)
        else:
            yield from _jsonl_items(handle)


def _jsonl_items(handle) -> Iterator[RawItem | Problem]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            yield Problem(number, f"not valid JSON ({exc.msg})")
            continue
        yield RawItem(number, data) if isinstance(data, dict) else Problem(number, "not a JSON object")


def _csv_items(handle) -> Iterator[RawItem | Problem]:
    reader = csv.DictReader(handle)
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                yield Problem(reader.line_num, "more cells than columns")
                continue
            yield RawItem(reader.line_num, {k: v for k, v in row.items() if v not in (None, "")})
    except csv.Error as exc:
        yield Problem(reader.line_num, f"unreadable CSV ({exc})")


def item_to_row(item: RawItem, brands: Sequence[Brand], default_brand: Brand | None, collected_at: str) -> MentionRow:
    data = item.data
    fields = {}
    for name in REQUIRED:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadItem(f"missing field {name!r}")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise BadItem(f"field {name!r} must be text")
        fields[name] = str(value).strip()
    source = fields["source"].lower()
    if not _SOURCE.match(source):
        raise BadItem(f"source {fields['source']!r} must be a short lower-case name such as 'x' or 'reddit'")
    try:
        created_at = iso(parse_timestamp(fields["created_at"]))
    except ValueError as exc:
        raise BadItem(f"created_at: {exc}") from None
    brand = _brand_of(data, fields["text"], brands, default_brand)
    lang = data.get("lang") if isinstance(data.get("lang"), str) else guess_language(fields["text"], brand.languages)
    return MentionRow(
        id=f"{source}:{fields['id']}",
        source=source,
        native_id=fields["id"],
        brand=brand.name,
        author=fields["author"],
        url=data.get("url") if isinstance(data.get("url"), str) else None,
        text=fields["text"],
        lang=lang,
        created_at=created_at,
        collected_at=collected_at,
        raw=json.dumps(data, ensure_ascii=False, sort_keys=True),
    )


def _brand_of(data: dict, text: str, brands: Sequence[Brand], default_brand: Brand | None) -> Brand:
    named = data.get("brand")
    if named is not None:
        brand = next((b for b in brands if b.name == named), None)
        if brand is None:
            raise BadItem(f"brand {named!r} is not configured")
    else:
        brand = default_brand or match_brand(text, brands)
        if brand is None:
            raise NotAboutBrand("mentions none of the configured brands' keywords")
    if is_excluded(text, brand):
        raise NotAboutBrand(f"matches an exclusion of brand {brand.name!r}")
    return brand
