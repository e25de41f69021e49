"""The contract every source module keeps, and the few things sources share.

A source module exports:

- ``TYPE``: its name in ``[[sources]] type``; ``LABEL``: its name for people ("X", "Reddit");
- ``Settings``: a frozen dataclass derived from ``SourceSettings``, its fields read from TOML;
- ``make_client(settings)``: its API client, credentials from the environment (``read_secret``);
- ``queries(settings, brands)``: what one run asks, each a ``Query`` with its own cursor;
- ``fetch(client, settings, query, cursor, sleep)``: network only; yields ``Page``s of raw items and
  raises our errors (``RateLimited``, ``SourceRefused``, ``SourceUnavailable``), never the client's;
- ``item_to_row(item, query, brands, collected_at)``: pure; a ``MentionRow``, or ``BadItem`` /
  ``NotAboutBrand``;
- ``Cursor``: ``Cursor.load(text or None)`` and ``cursor.dump()``; a page carries the cursor that
  holds once the page is committed;
- ``expected_items(settings, brands)``: an estimate of the items one run reads, for progress bars.

A source that can answer on its platform also exports ``reply_client(settings)`` (a client with write
credentials, each named when missing) and ``send_reply(client, settings, reply_to, text, key)``: posts
``text`` under the mention ``reply_to`` (a ``ReplyTo``), ``key`` its idempotency key where the
platform takes one; returns the reply's id on the platform, or raises ``ReplyRefused`` (which says why).
A source whose client logs in over the network when made also exports ``reply_ready(settings)``,
which names a missing write credential without the network (the reply page asks on every view).

The collect job (``listener.jobs.collect``) drives every source the same way: it loads the cursor,
asks for pages, turns items into rows, and commits each chunk of rows with its alerts, the cursor
and the budget spent in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from ..settings import Brand, setting

T = TypeVar("T")
Sleep = Callable[[float], None]


class BadItem(ValueError):
    """The item cannot become a mention (malformed or incomplete); it is logged and skipped."""


class ReplyRefused(Exception):
    """The platform did not take a reply (no permission, a deleted post, a rate limit); says why."""


class NotAboutBrand(ValueError):
    """The item is well-formed but about none of the configured brands (or excluded, or removed)."""


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """What every ``[[sources]]`` table has; each source type adds its own fields."""

    kind: ClassVar[str] = ""  # the module's TYPE
    name: str = setting()
    interval_minutes: float = setting(15.0, low=0.1)

    @property
    def job(self) -> str:
        """The name of this source's runs, cursors and budget: ``x:x``, ``import:sample``."""
        return f"{self.kind}:{self.name}"

    @property
    def budget(self) -> Budget | None:
        """The source's spending limit, if it has one (X posts read, YouTube quota units)."""
        return None

    def problems(self, brands: Sequence[Brand]) -> Iterator[tuple[str, str]]:
        """(key, problem) for settings that are wrong together or against the brands: a source whose
        settings name a ``brand`` must name a configured one. Sources with more to check extend this
        (``yield from super().problems(brands)``)."""
        brand = getattr(self, "brand", None)
        if brand is not None and brand not in {b.name for b in brands}:
            yield "brand", f"no brand named {brand!r} in [[brands]]"


@dataclass(frozen=True)
class Budget:
    """A limit on what a source may read per calendar period (UTC), counted in the database."""

    limit: int
    period: str  # "month" or "day"
    unit: str  # what is counted, e.g. "tweets"
    setting: str  # the setting that sets it, for the notice

    def period_of(self, now: datetime) -> str:
        return f"{now:%Y-%m}" if self.period == "month" else f"{now:%Y-%m-%d}"

    def next_period(self) -> str:
        return "next month" if self.period == "month" else "tomorrow"


@dataclass(frozen=True)
class Query:
    """One thing a run asks for, with its own cursor: a brand's search, a subreddit's comments, a file."""

    key: str  # the cursor's query key
    brand: Brand | None = None  # the brand asked about; None: rows are matched to brands by keyword


@dataclass
class Page:
    items: list[Any]
    cursor: Any = None  # the cursor once this page is committed; None: the stored cursor stays
    cost: int = 0  # what this page spent of the source's budget


@dataclass(frozen=True)
class JsonCursor:
    """A cursor kept as the JSON object of its fields: a source's ``Cursor`` is a frozen dataclass
    derived from this one, its fields the place it has reached."""

    @classmethod
    def load(cls, value: str | None):
        return cls(**json.loads(value)) if value else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True)
class SinceCursor(JsonCursor):
    """The time (ISO) of the newest item committed, for queries read newest first: the next run reads
    back to it. Sources whose cursor is only that use it as their ``Cursor``."""

    since: str | None = None

    def newer(self, items: Sequence[T], times: Sequence[str | None]) -> list[T]:
        """The items newer than the cursor; one without a time goes on (to be reported as malformed)."""
        return [item for item, when in zip(items, times) if not when or not self.since or when > self.since]

    def advanced(self, times: Sequence[str | None]) -> SinceCursor:
        """The cursor moved to the newest of ``times`` (never back)."""
        return SinceCursor(max([t for t in (self.since, *times) if t], default=self.since))

    def read_back(self, ask: Callable[[str | None], tuple[list, str | None]], time_of: Callable[[Any], str | None],
                  max_pages: int, cost: int = 0) -> Iterator[Page]:
        """Pages of an API read newest first by page token (``ask(token)`` -> items, next token), back
        to this cursor: the page that reaches it, or the last one read, carries the advanced cursor."""
        token, reached = None, self
        for number in range(max_pages):
            items, token = ask(token)
            times = [time_of(item) for item in items]
            fresh = self.newer(items, times)
            reached = reached.advanced(times)
            done = not token or len(fresh) < len(items) or number == max_pages - 1
            yield Page(fresh, reached if done else None, cost=cost)
            if done:
                return


@dataclass(frozen=True)
class MentionRow:
    id: str
    source: str
    native_id: str
    brand: str
    author: str | None
    url: str | None
    text: str
    lang: str | None
    created_at: str
    collected_at: str
    raw: str  # the item as received, JSON
    rating: int | None = None  # 1-5 stars, for sources that have them (reviews)
    text_length: int | None = None  # the text's full length, when it was cut to the storage limit
    revision: int | None = None  # an editable post's version; a higher one replaces the stored text
    reply: str | None = None  # the brand's own public answer, where the source shows it


@dataclass(frozen=True)
class ReplyTo:
    """What a source's ``send_reply`` needs to answer a stored mention: its id on the platform, the
    item as received (a platform may need more than the id, e.g. Bluesky's content id) and its link."""

    native_id: str
    raw: dict
    author: str | None = None
    url: str | None = None


def translated(call: Callable[[], T], translate: Callable[[Exception], Exception]) -> T:
    """``call()``, with an API client's exceptions turned into ours (unknown ones pass unchanged)."""
    try:
        return call()
    except Exception as exc:
        ours = translate(exc)
        if ours is exc:
            raise
        raise ours from None
