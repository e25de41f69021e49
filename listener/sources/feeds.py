"""RSS and Atom feeds (feedparser): a Google Alerts feed for the brand, news sites, blogs, a Reddit
search feed (no API approval needed), any feed URL.

Polite: a feed is asked at most every ``interval_minutes`` (an hour by default), with the ETag and
Last-Modified of the last answer, so an unchanged feed costs one 304. Entries become mentions keyed
by their id (or link); HTML becomes plain text; a Google Alerts link is unwrapped to the article's.
With ``brand`` set, every entry is about that brand (a brand's own Alerts feed); without it, entries
are matched to brands by keyword, like posts.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso
from listener.sources.base import MentionRow

from ..brands import is_excluded, match_brand
from ..language import guess_language, language_code
from ..settings import Brand, setting
from .base import BadItem, JsonCursor, NotAboutBrand, Page, Query, Sleep, SourceSettings
from .fetching import html_to_text, request

TYPE = "feed"
LABEL = "Feed"


def _url_problem(url: str) -> str | None:
    return None if url.startswith(("https://", "http://")) else f"expected an http(s) URL, got {url!r}"


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """One RSS or Atom feed."""

    kind = TYPE
    url: str = setting(check=_url_problem)
    brand: str | None = setting(None)  # every entry is about this brand; else entries are matched by keyword
    user_agent: str = setting("ascolto/0.1 (feed reader; self-hosted social listening)")
    interval_minutes: float = setting(60.0, low=5)  # feeds change slowly; asking more often is impolite


def make_client(settings: Settings):
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    return session


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    if settings.brand is not None and brand is None:
        return []  # collecting for other brands only
    return [Query(settings.url, brand)]


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return 100


@dataclass(frozen=True)
class Cursor(JsonCursor):
    """The validators of the last answer: an unchanged feed answers 304 to them."""

    etag: str | None = None
    modified: str | None = None


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    import feedparser

    headers = {k: v for k, v in (("If-None-Match", cursor.etag), ("If-Modified-Since", cursor.modified)) if v}
    response = request(client, "GET", settings.url, headers=headers, what=f"feed {settings.name!r}", sleep=sleep)
    if response.status_code == 304:
        yield Page([], cursor)
        return
    parsed = feedparser.parse(response.content, response_headers={k.lower(): v for k, v in response.headers.items()})
    feed = {"title": parsed.feed.get("title"), "language": parsed.feed.get("language")}
    items = [{"entry": dict(entry), "feed": feed} for entry in parsed.entries]
    yield Page(items, Cursor(response.headers.get("ETag"), response.headers.get("Last-Modified")))


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    entry, feed = item.get("entry") or {}, item.get("feed") or {}
    link = _unwrap(entry.get("link") or "")
    native_id = entry.get("id") or link
    title = html_to_text(entry.get("title") or "")
    body = html_to_text((entry.get("content") or [{}])[0].get("value") or entry.get("summary") or "")
    text = clean("\n\n".join(part for part in (title, body) if part))
    if not native_id or not text:
        raise BadItem(f"feed entry {native_id or title or '?'}: no id, link or text")
    brand = query.brand or match_brand(text, brands)
    if brand is None:
        raise NotAboutBrand(f"feed entry {native_id}: names none of the brands")
    if is_excluded(text, brand):
        raise NotAboutBrand(f"feed entry {native_id}: matches an exclusion of brand {brand.name!r}")
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    created = iso(datetime.fromtimestamp(calendar.timegm(published), timezone.utc)) if published else collected_at
    lang = language_code(entry.get("language") or feed.get("language")) or guess_language(text, brand.languages)
    author = one_line(entry.get("author") or feed.get("title") or "") or None
    return MentionRow(id=f"feed:{native_id}", source="feed", native_id=native_id, brand=brand.name, author=author,
                      url=link or None, text=text, lang=lang, created_at=created, collected_at=collected_at,
                      raw=json.dumps(item, ensure_ascii=False, sort_keys=True, default=str))


def _unwrap(link: str) -> str:
    """A Google Alerts link (google.com/url?...&url=ARTICLE) is the article's link."""
    parts = urlsplit(link)
    if parts.hostname and parts.hostname.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url")
        if target:
            return target[0]
    return link
