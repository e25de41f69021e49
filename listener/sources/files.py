"""File import: brand mentions exported as JSON Lines or CSV (the "import" source type).

Columns: id, source, author, text, created_at (ISO 8601 with a zone) are required; url, lang and
brand are optional. ``read_items`` only reads; ``item_to_row`` is pure; the collect job saves.
A malformed row is reported with its line number and skipped; the rest of the file is saved. Files
have no cursor: importing a file again finds every row already stored (by ``source:id``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from pathlib import Path

from listener.kernel.errors import AscoltoError
from listener.kernel.textfiles import LEGACY, clean, csv_rows, one_line, open_lines, undecodable, undecodable_problem
from listener.kernel.times import days_to_yesterday, iso, parse_timestamp
from listener.sources.base import MentionRow

from ..brands import is_excluded, match_brand
from ..language import guess_language, language_code
from ..settings import Brand, setting
from .base import BadItem, NotAboutBrand, Page, Query, Sleep, SourceSettings

TYPE = "import"
log = logging.getLogger(__name__)
LABEL = "File import"
REQUIRED = ("id", "source", "author", "text", "created_at")
PAGE_ITEMS = 256
_SOURCE = re.compile(r"^[a-z0-9_.-]{1,32}$")


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """A JSONL or CSV export read at each run."""

    kind = TYPE
    path: Path = setting(path=True)
    brand: str | None = setting(None)  # the brand of every row; else each row's brand, else keyword matching
    # Sample data: the file's dates move by whole days so that its newest is the day before the import
    relative_dates: bool = setting(False)


def make_client(settings: Settings) -> None:
    return None  # a file needs no client


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    return [Query(str(settings.path), brand)]


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    if not settings.path.is_file():
        return 0
    with settings.path.open(encoding="utf-8", errors="replace") as handle:
        return sum(1 for _ in handle)


def fetch(client: None, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    items = read_items(settings.path)
    if settings.relative_dates:
        items = list(items)
        newest = max(_times(items), default=None)
        items = iter([replace(item, newest=newest) if isinstance(item, RawItem) else item for item in items])
    while page := list(islice(items, PAGE_ITEMS)):
        yield Page(page)


def _times(items) -> Iterator[datetime]:
    for item in items:
        try:
            yield parse_timestamp(item.data["created_at"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # reported when the item becomes a row


class Cursor:
    """Files keep no cursor: every run reads the whole file, and stored rows are recognised."""

    @classmethod
    def load(cls, value: str | None) -> Cursor:
        return cls()

    def dump(self) -> None:
        return None


@dataclass(frozen=True)
class RawItem:
    where: str  # file:line, for messages
    data: dict
    newest: datetime | None = None  # with relative_dates: the file's newest created_at


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str


def read_items(path: Path) -> Iterator[RawItem | Problem]:
    """The file's rows, or a Problem per line that cannot be read (bad JSON, bad bytes, bad CSV)."""
    path = Path(path)
    try:
        lines, encoding = open_lines(path)
    except OSError as exc:
        raise AscoltoError(f"cannot read {path}: {exc.strerror}") from None
    if encoding == LEGACY:
        log.warning("%s is not UTF-8: read as Windows-1252 (Latin-1); save exports as UTF-8", path)
    yield from (_csv_items if path.suffix.lower() == ".csv" else _jsonl_items)(lines, path)


def _jsonl_items(lines: Iterator[str], path: Path) -> Iterator[RawItem | Problem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if undecodable(line):
            yield Problem(where, undecodable_problem(line))
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            yield Problem(where, f"not valid JSON ({exc.msg})")
            continue
        yield RawItem(where, data) if isinstance(data, dict) else Problem(where, "not a JSON object")


def _csv_items(lines: Iterator[str], path: Path) -> Iterator[RawItem | Problem]:
    for line, row, problem in csv_rows(lines):
        where = f"{path}:{line}"
        if problem is None and None in row:
            problem = "more cells than columns"
        yield Problem(where, problem) if problem else RawItem(where, {k: v for k, v in row.items() if v not in (None, "")})


def item_to_row(item: RawItem | Problem, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    if isinstance(item, Problem):
        raise BadItem(item.reason)
    data, default_brand = item.data, query.brand
    fields = {}
    for name in REQUIRED:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadItem(f"missing field {name!r}")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise BadItem(f"field {name!r} must be text")
        fields[name] = clean(str(value)).strip()
    source = fields["source"].lower()
    if not _SOURCE.match(source):
        raise BadItem(f"source {fields['source']!r} must be a short lower-case name such as 'x' or 'reddit'")
    try:
        created = parse_timestamp(fields["created_at"])
    except ValueError as exc:
        raise BadItem(f"created_at: {exc}") from None
    if item.newest is not None:  # sample data: the newest row lands on the day before the import
        created += days_to_yesterday([item.newest], parse_timestamp(collected_at))
    created_at = iso(created)
    brand = _brand_of(data, fields["text"], brands, default_brand)
    lang = language_code(data.get("lang")) or guess_language(fields["text"], brand.languages)
    return MentionRow(
        id=f"{source}:{fields['id']}",
        source=source,
        native_id=fields["id"],
        brand=brand.name,
        author=one_line(fields["author"]),
        url=one_line(data["url"]) if isinstance(data.get("url"), str) else None,
        text=fields["text"],
        lang=lang,
        created_at=created_at,
        collected_at=collected_at,
        raw=clean(json.dumps(data, ensure_ascii=False, sort_keys=True)),
        rating=_rating(data.get("rating")),
    )


def _rating(value) -> int | None:
    """Stars of a review, 1-5, where the export has them."""
    if value is None:
        return None
    try:
        stars = float(value)
    except (TypeError, ValueError):
        stars = 0.5  # not a number: refused below
    if isinstance(value, bool) or not stars.is_integer() or not 1 <= stars <= 5:
        raise BadItem(f"rating {value!r} must be a whole number of stars from 1 to 5")
    return int(stars)


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
