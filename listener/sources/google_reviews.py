"""Google reviews of the brand's shops (Google Business Profile API v4, ``accounts.locations.reviews``):
the reviews customers leave on Google Maps and Search, with their stars and the owner's reply.

The API needs OAuth as a manager of the locations (scope ``business.manage``): a client id and secret
of a Google Cloud project with the Business Profile APIs enabled (Google grants access on request),
and a refresh token obtained once for the manager's account. All three come from the environment;
google-auth trades the refresh token for access tokens and renews them as they expire.

Reviews are read newest update first, back to the newest update committed. An edited review comes back
with a later ``updateTime`` and replaces the stored one; a review with stars and no words is kept (a
one-star rating is a complaint too) with its stars as its text. Google's own translation of a review
is dropped for the customer's original words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.secrets import read_secret
from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import MentionRow

from ..brands import is_excluded
from ..language import guess_language
from ..settings import Brand, setting
from .base import (
    BadItem,
    NotAboutBrand,
    Page,
    Query,
    ReplyRefused,
    ReplyTo,
    SinceCursor,
    Sleep,
    SourceSettings,
    translated,
)
from .fetching import request

TYPE = "google_reviews"
LABEL = "Google reviews"
SCOPE = "https://www.googleapis.com/auth/business.manage"
REVIEWS_URL = "https://business.google.com/reviews"  # where the manager answers (the API gives no review link)
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}


def _location_problem(value: tuple[str, ...]) -> str | None:
    bad = [v for v in value if not v.startswith("accounts/") or "/locations/" not in v]
    return f"expected names like \"accounts/123/locations/456\", got {bad[0]!r}" if bad else None


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """The Google reviews of one brand's locations."""

    kind = TYPE
    brand: str = setting()  # whose shops these are: every review is about this brand
    locations: tuple[str, ...] = setting((), check=_location_problem)  # "accounts/123/locations/456", ...
    client_id_env: str = setting("GOOGLE_CLIENT_ID")
    client_secret_env: str = setting("GOOGLE_CLIENT_SECRET")
    refresh_token_env: str = setting("GOOGLE_REFRESH_TOKEN")
    api_root: str = setting("https://mybusiness.googleapis.com/")
    token_uri: str = setting("https://oauth2.googleapis.com/token")
    page_size: int = setting(50, low=1, high=50)
    max_pages: int = setting(10, low=1, high=100)
    interval_minutes: float = setting(60.0, low=5)

    def problems(self, brands: Sequence[Brand]) -> Iterator[tuple[str, str]]:
        yield from super().problems(brands)
        if not self.locations:
            yield "locations", "name at least one location, like \"accounts/123/locations/456\""


def make_client(settings: Settings):
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2.credentials import Credentials

    needed_for = f"the Google Business Profile account of source {settings.name!r}"
    credentials = Credentials(
        token=None, refresh_token=read_secret(settings.refresh_token_env, needed_for),
        client_id=read_secret(settings.client_id_env, needed_for),
        client_secret=read_secret(settings.client_secret_env, needed_for), token_uri=settings.token_uri,
        scopes=[SCOPE])
    return AuthorizedSession(credentials)


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    return [Query(location, brand) for location in settings.locations] if brand else []


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.page_size * settings.max_pages * len(queries(settings, brands))


Cursor = SinceCursor  # updateTime of the newest review committed (ISO)


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages of reviews, newest update first, back to the cursor."""
    url = f"{settings.api_root.rstrip('/')}/v4/{query.key}/reviews"

    def ask(token: str | None) -> tuple[list, str | None]:
        params = {"pageSize": settings.page_size, "orderBy": "updateTime desc", **({"pageToken": token} if token else {})}
        answer = translated(lambda: request(client, "GET", url, what="Google Business Profile", sleep=sleep,
                                            refused_hint=_refused_hint(settings), params=params),
                            lambda exc: _translate(exc, settings)).json()
        return [r for r in answer.get("reviews") or [] if isinstance(r, dict)], answer.get("nextPageToken")

    return cursor.read_back(ask, _updated, settings.max_pages)


def _refused_hint(settings: Settings) -> str:
    return (f"check that the account of {settings.refresh_token_env} manages the location and that the "
            "project has Business Profile API access")


def _translate(exc: Exception, settings: Settings) -> Exception:
    from google.auth.exceptions import RefreshError

    if isinstance(exc, RefreshError):  # a revoked or mistyped refresh token, a wrong client secret
        return SourceRefused(f"Google refused the OAuth refresh ({exc.args[0] if exc.args else exc}): check "
                             f"{settings.client_id_env}, {settings.client_secret_env} and {settings.refresh_token_env}")
    return exc


def _updated(review: dict) -> str | None:
    try:
        return iso(parse_timestamp(review.get("updateTime") or review.get("createTime") or ""))
    except ValueError:
        return None


def original_words(comment: str) -> str:
    """The customer's own words: Google shows a review in the reader's language as
    "(Translated by Google) ...\\n\\n(Original)\\n..."; the original is what the customer wrote."""
    if "(Original)" in comment:
        return comment.split("(Original)", 1)[1].strip()
    return comment.removeprefix("(Translated by Google)").strip()


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    review_id, stars = item.get("reviewId"), STARS.get(item.get("starRating"))
    try:
        created_at = iso(parse_timestamp(item.get("createTime") or ""))
        updated = parse_timestamp(item.get("updateTime") or item.get("createTime"))
    except ValueError as exc:
        raise BadItem(f"Google review {review_id or '?'}: bad time ({exc})") from None
    if not review_id or stars is None:
        raise BadItem(f"Google review {review_id or '?'}: no id or stars")
    text = original_words(clean(item.get("comment") or ""))
    brand = query.brand
    if text and is_excluded(text, brand):
        raise NotAboutBrand(f"Google review {review_id}: matches an exclusion of brand {brand.name!r}")
    reviewer = item.get("reviewer") or {}
    author = None if reviewer.get("isAnonymous") else one_line(reviewer.get("displayName") or "") or None
    reply = (item.get("reviewReply") or {}).get("comment")
    return MentionRow(
        id=f"google_reviews:{review_id}", source="google_reviews", native_id=review_id, brand=brand.name,
        author=author, url=REVIEWS_URL,
        # words or, for a rating without words, its stars: the rating rule alerts on 1-2 either way
        text=text or "★" * stars + "☆" * (5 - stars),
        lang=guess_language(text, brand.languages) if text else brand.languages[0], created_at=created_at,
        collected_at=collected_at, raw=json.dumps(item, ensure_ascii=False, sort_keys=True), rating=stars,
        revision=int(updated.timestamp()), reply=original_words(clean(reply)) if reply else None)


# ---- replying -----------------------------------------------------------------------------------

def reply_client(settings: Settings):
    """The source's own session: a location's manager with business.manage may reply."""
    return make_client(settings)


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str, sleep: Sleep = time.sleep) -> str:
    """The owner's reply to the review (PUT: it creates the reply or replaces the previous one, so a
    retry cannot post twice). Google gives a reply no id of its own: the review's name stands for it."""
    name = reply_to.raw.get("name") or ""
    if "/reviews/" not in name:
        raise ReplyRefused("the review's full name (accounts/.../locations/.../reviews/...) was not stored")
    url = f"{settings.api_root.rstrip('/')}/v4/{name}/reply"
    try:
        translated(lambda: request(client, "PUT", url, what="Google Business Profile reply", sleep=sleep,
                                   refused_hint=_refused_hint(settings), json={"comment": text}),
                   lambda exc: _translate(exc, settings))
    except (SourceRefused, RateLimited, SourceUnavailable) as exc:
        raise ReplyRefused(str(exc)) from None
    return name
