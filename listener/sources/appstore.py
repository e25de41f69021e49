"""App Store reviews: Apple's public customer-reviews feed of the brand's app, per country.

No credentials and no API key: the feed is public (10 pages of 50 reviews, newest first, per
country). Each review keeps its star rating, so a 1-2 star review raises an alert whatever its text.
The cursor is the newest review id committed per country; it moves only when a run has read every
page back to it, so a crash or a stop never skips a review.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import MentionRow

from ..brands import is_excluded
from ..language import guess_language
from ..settings import Brand, setting
from .base import BadItem, JsonCursor, NotAboutBrand, Page, Query, Sleep, SourceSettings
from .fetching import request

TYPE = "appstore"
LABEL = "App Store"
FEED = "https://itunes.apple.com/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"
COUNTRY_LANGUAGE = {"it": "it", "sm": "it", "va": "it", "us": "en", "gb": "en", "ie": "en", "au": "en", "ca": "en"}


def _countries_problem(codes: tuple[str, ...]) -> str | None:
    bad = [c for c in codes if not (len(c) == 2 and c.isalpha() and c.islower())]
    return f"expected two-letter country codes such as it or gb, got {bad[0]!r}" if bad else None


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """The reviews of one app on the App Store."""

    kind = TYPE
    app_id: str = setting(check=lambda v: None if v.isdigit() else f"expected the app's numeric id, got {v!r}")
    brand: str = setting()  # the brand whose app it is
    countries: tuple[str, ...] = setting(("it",), check=_countries_problem)
    max_pages: int = setting(3, low=1, high=10)  # of 50 reviews, per country and run
    interval_minutes: float = setting(60.0, low=5)


def make_client(settings: Settings):
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = "ascolto/0.1 (self-hosted social listening)"
    return session


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    return [Query(country, brand) for country in settings.countries] if brand else []


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return 50 * settings.max_pages * len(settings.countries)


@dataclass(frozen=True)
class Cursor(JsonCursor):
    newest: int = 0  # the newest review id committed for this country


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages newest first, back to the cursor; the last page read carries the new cursor."""
    newest = cursor.newest
    for number in range(1, settings.max_pages + 1):
        url = FEED.format(country=query.key, page=number, app_id=settings.app_id)
        response = request(client, "GET", url, what=f"App Store reviews of {settings.app_id} ({query.key})",
                           sleep=sleep)
        entries = (response.json().get("feed") or {}).get("entry") or []
        entries = [entries] if isinstance(entries, dict) else entries
        reviews = [e for e in entries if isinstance(e, dict) and "im:rating" in e]  # not the app's own entry
        ids = [_review_id(e) for e in reviews]
        fresh = [e for e, i in zip(reviews, ids) if i > cursor.newest]
        newest = max([newest, *ids])
        done = len(fresh) < len(reviews) or not reviews or number == settings.max_pages
        yield Page([{"review": e, "country": query.key, "app_id": settings.app_id} for e in fresh],
                   Cursor(newest) if done else None)
        if done:
            return


def _review_id(entry: dict) -> int:
    try:
        return int(entry["id"]["label"])
    except (KeyError, TypeError, ValueError):
        return 0


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    review, country = item.get("review") or {}, item.get("country") or ""

    def label(*path):
        value = review
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    review_id = str(label("id", "label") or "")
    try:
        rating = int(label("im:rating", "label"))
        created_at = iso(parse_timestamp(label("updated", "label") or ""))
    except (TypeError, ValueError) as exc:
        raise BadItem(f"App Store review {review_id or '?'}: malformed ({exc})") from None
    text = clean("\n\n".join(p for p in (label("title", "label"), label("content", "label")) if p).strip())
    if not review_id or not text or not 1 <= rating <= 5:
        raise BadItem(f"App Store review {review_id or '?'}: no id, text or rating")
    if is_excluded(text, query.brand):
        raise NotAboutBrand(f"App Store review {review_id}: matches an exclusion of brand {query.brand.name!r}")
    return MentionRow(
        id=f"appstore:{review_id}", source="appstore", native_id=review_id, brand=query.brand.name,
        author=one_line(label("author", "name", "label") or "") or None,
        url=f"https://apps.apple.com/{country}/app/id{item.get('app_id')}?see-all=reviews", text=text,
        lang=guess_language(text, query.brand.languages) or COUNTRY_LANGUAGE.get(country), created_at=created_at,
        collected_at=collected_at, raw=json.dumps(review, ensure_ascii=False, sort_keys=True), rating=rating)
