"""Google Play reviews of the brand's app (google-play-scraper), newest first, with their stars.

No credentials: the reviews are public. The library's ``reviews()`` answers an HTTP error (a 429,
a 5xx) with an empty list, which would look like a quiet app; this module asks with the library's
own request format, sender and field map instead, so that a refusal is seen, retried and recorded.
An edited review comes back with a new time and replaces the stored one (its time is its revision).
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso
from listener.sources.base import MentionRow

from ..brands import is_excluded
from ..language import guess_language
from ..settings import Brand, setting
from .base import BadItem, JsonCursor, NotAboutBrand, Page, Query, Sleep, SourceSettings, translated

TYPE = "googleplay"
LABEL = "Google Play"
NEWEST = 2  # google_play_scraper.Sort.NEWEST


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """The reviews of one app on Google Play, in one language and country."""

    kind = TYPE
    app_id: str = setting(check=lambda v: None if re.fullmatch(r"[A-Za-z][\w]*(\.[A-Za-z][\w]*)+", v)
                          else f"expected a package name such as com.caffeaurora.app, got {v!r}")
    brand: str = setting()
    lang: str = setting("it")
    country: str = setting("it")
    page_size: int = setting(100, low=10, high=200)
    max_pages: int = setting(5, low=1, high=100)
    interval_minutes: float = setting(60.0, low=5)


def make_client(settings: Settings):
    """The library's sender. Importing the library turns off certificate checks for every urllib
    connection of the process (its own workaround); they are turned back on at once."""
    secure = ssl._create_default_https_context
    try:
        from google_play_scraper.utils import request
    finally:
        ssl._create_default_https_context = secure
    return request


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    return [Query(f"{settings.app_id}:{settings.lang}-{settings.country}", brand)] if brand else []


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.page_size * settings.max_pages


@dataclass(frozen=True)
class Cursor(JsonCursor):
    after: float = 0.0  # the newest review time committed (epoch seconds)


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages of reviews, newest first, back to the cursor; the last page read carries the new cursor."""
    token, newest = None, cursor.after
    for number in range(settings.max_pages):
        reviews, token = translated(lambda: _page(client, settings, token), _translate)
        times = [_time(r) for r in reviews]
        fresh = [r for r, t in zip(reviews, times) if t > cursor.after or not t]  # no time: reported as malformed
        newest = max([newest, *times])
        done = not token or len(fresh) < len(reviews) or number == settings.max_pages - 1
        yield Page([{"review": r, "app_id": settings.app_id} for r in fresh], Cursor(newest) if done else None)
        if done:
            return


def _page(request, settings: Settings, token: str | None) -> tuple[list, str | None]:
    from google_play_scraper.constants.regex import Regex
    from google_play_scraper.constants.request import Formats

    url = Formats.Reviews.build(lang=settings.lang, country=settings.country)
    body = Formats.Reviews.build_body(settings.app_id, NEWEST, settings.page_size, "null", "null", token)
    dom = request.post(url, body, {"content-type": "application/x-www-form-urlencoded"})
    found = Regex.REVIEWS.findall(dom)
    if not found:
        raise ValueError("not a reviews answer")
    payload = json.loads(found[0])[0][2]
    results = json.loads(payload) if payload else []
    reviews = results[0] if results and isinstance(results[0], list) else []
    # the continuation token: the string ending the last [null, "token"] part after the reviews
    token = next((part[-1] for part in reversed(results[1:]) if isinstance(part, list) and part
                  and isinstance(part[-1], str)), None)
    return [r for r in reviews if isinstance(r, list)], token


def _translate(exc: Exception) -> Exception:
    from google_play_scraper.exceptions import ExtraHTTPError, NotFoundError

    if isinstance(exc, NotFoundError):
        return SourceRefused("Google Play: no such app (404): check the source's app_id")
    if isinstance(exc, ExtraHTTPError):
        status = re.search(r"Status code (\d+)", str(exc))
        code = int(status.group(1)) if status else 0
        if code == 429:
            return RateLimited("Google Play rate limit reached (429); collection resumes at the next run")
        return SourceUnavailable(f"Google Play is unavailable after retries ({code or exc})")
    if isinstance(exc, (OSError, ValueError)):
        return SourceUnavailable(f"Google Play is unavailable after retries ({type(exc).__name__}: {exc})")
    return exc


def _time(review: list) -> float:
    try:
        return float(review[5][0])
    except (IndexError, TypeError, ValueError):
        return 0.0


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    from google_play_scraper.constants.element import ElementSpecs

    raw = item.get("review")
    review = {k: spec.extract_content(raw) for k, spec in ElementSpecs.Review.items() if k not in ("at", "repliedAt")}
    review_id, text, stars, when = review.get("reviewId"), clean(review.get("content") or "").strip(), \
        review.get("score"), _time(raw or [])
    if not review_id or not text or stars not in (1, 2, 3, 4, 5) or not when:
        raise BadItem(f"Google Play review {review_id or '?'}: no id, text, stars or time")
    if is_excluded(text, query.brand):
        raise NotAboutBrand(f"Google Play review {review_id}: matches an exclusion of brand {query.brand.name!r}")
    app_id = item.get("app_id")
    return MentionRow(
        id=f"googleplay:{review_id}", source="googleplay", native_id=review_id, brand=query.brand.name,
        author=one_line(review.get("userName") or "") or None,
        url=f"https://play.google.com/store/apps/details?id={app_id}&reviewId={review_id}", text=text,
        lang=guess_language(text, query.brand.languages), created_at=iso(datetime.fromtimestamp(when, timezone.utc)),
        collected_at=collected_at, raw=json.dumps({"review": review, "app_id": app_id}, ensure_ascii=False,
                                                  sort_keys=True, default=str),
        rating=int(stars), revision=int(when), reply=review.get("replyContent") or None)
