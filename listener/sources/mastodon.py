"""Mastodon (Mastodon.py): hashtag timelines and full-text search of one instance, with its access
token from the environment (one source per instance).

A post seen through two instances has two local ids but one ``uri``: mentions are keyed by it, so it
is stored once. Boosts are skipped (the original is what was said, and is found on its own); HTML
becomes text. Each query keeps a ``since_id`` cursor, moved when a run has read back to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.secrets import read_secret
from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso
from listener.sources.base import MentionRow

from ..brands import is_excluded, match_brand
from ..language import guess_language, language_code
from ..settings import Brand, setting
from .base import (
    BadItem,
    JsonCursor,
    NotAboutBrand,
    Page,
    Query,
    ReplyRefused,
    ReplyTo,
    Sleep,
    SourceSettings,
    translated,
)
from .fetching import html_to_text
from .retry import call_with_retries

TYPE = "mastodon"
LABEL = "Mastodon"


def _instance_problem(url: str) -> str | None:
    parts = urlsplit(url)
    ok = parts.scheme in ("https", "http") and parts.hostname and parts.path in ("", "/")
    return None if ok else f"expected the instance's address such as https://mastodon.social, got {url!r}"


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """Hashtags and search on one Mastodon instance."""

    kind = TYPE
    instance: str = setting(check=_instance_problem)
    access_token_env: str = setting("MASTODON_ACCESS_TOKEN")
    hashtags: tuple[str, ...] = setting((), convert=lambda tags: tuple(t.lstrip("#") for t in tags))
    brand: str | None = setting(None)  # the hashtags' posts are about this brand; else matched by keyword
    search: bool = setting(True)  # search posts for each brand's keywords (posts whose authors allow it)
    limit: int = setting(40, low=1, high=40)  # posts per request (Mastodon's maximum is 40)
    max_pages: int = setting(5, low=1, high=100)


def make_client(settings: Settings):
    from mastodon import Mastodon

    token = read_secret(settings.access_token_env, f"the Mastodon access token of source {settings.name!r}")
    # mastodon_version: the API of Mastodon 4 (2022) and later, which every maintained instance runs; naming
    # it spares a request for the instance's version before the first search.
    return Mastodon(access_token=token, api_base_url=settings.instance, ratelimit_method="throw",
                    request_timeout=30, version_check_mode="created", mastodon_version="4.0.0",
                    user_agent="ascolto/0.1")


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    tagged = next((b for b in brands if b.name == settings.brand), None)
    found = [Query(f"tag:{tag}", tagged) for tag in settings.hashtags] if tagged or not settings.brand else []
    if settings.search:
        found += [Query(f"search:{keyword}", brand) for brand in brands for keyword in brand.keywords]
    return found


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.limit * settings.max_pages * len(queries(settings, brands))


@dataclass(frozen=True)
class Cursor(JsonCursor):
    since_id: str | None = None


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages newest first, back to the cursor (Mastodon.py follows a timeline's Link headers); the last
    page carries the new cursor."""
    kind, _, term = query.key.partition(":")

    def first():
        if kind == "tag":
            return client.timeline_hashtag(term, since_id=cursor.since_id, limit=settings.limit)
        return client.search_v2(term, resolve=False, result_type="statuses", min_id=cursor.since_id,
                                limit=settings.limit)["statuses"]

    page = _call(first, settings, sleep)
    newest = cursor.since_id
    for number in range(settings.max_pages):
        statuses = list(page or [])
        newest = max([newest, *(str(s["id"]) for s in statuses if "id" in s)], key=_as_int, default=newest)
        # a search answers one page of posts newer than the cursor (search pages by offset, not by Link)
        last = kind == "search" or number == settings.max_pages - 1 or len(statuses) < settings.limit
        following = None if last else _call(lambda: client.fetch_next(page), settings, sleep)
        done = last or not following
        yield Page([{"status": s, "instance": settings.instance} for s in statuses], Cursor(newest) if done else None)
        if done:
            return
        page = following


def _as_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _call(call, settings: Settings, sleep: Sleep):
    from mastodon import MastodonNetworkError, MastodonServerError

    return translated(lambda: call_with_retries(call, transient=(MastodonNetworkError, MastodonServerError),
                                                what=f"Mastodon {settings.instance}", sleep=sleep),
                      lambda exc: _translate(exc, settings))


def _translate(exc: Exception, settings: Settings) -> Exception:
    from mastodon import (
        MastodonNetworkError,
        MastodonNotFoundError,
        MastodonRatelimitError,
        MastodonServerError,
        MastodonUnauthorizedError,
    )

    if isinstance(exc, MastodonRatelimitError):
        return RateLimited(f"Mastodon {settings.instance}: rate limit reached; collection resumes at the next run")
    if isinstance(exc, MastodonUnauthorizedError):
        return SourceRefused(f"Mastodon {settings.instance} refused the access token (401): check "
                             f"{settings.access_token_env} (sources {settings.name!r})")
    if isinstance(exc, MastodonNotFoundError):
        return SourceRefused(f"Mastodon {settings.instance}: not found (404): is the instance address right?")
    if isinstance(exc, (MastodonServerError, MastodonNetworkError)):
        return SourceUnavailable(f"Mastodon {settings.instance} is unavailable after retries: {type(exc).__name__}")
    return exc


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    if status.get("reblog"):
        raise NotAboutBrand(f"mastodon {status.get('id')}: a boost")
    uri, created = status.get("uri"), status.get("created_at")
    text = clean("\n\n".join(p for p in (status.get("spoiler_text"), html_to_text(status.get("content") or "")) if p))
    if not uri or not text or not created:
        raise BadItem(f"mastodon status {status.get('id', '?')}: no uri, text or time")
    try:
        created_at = iso(created if isinstance(created, datetime) else datetime.fromisoformat(
            str(created).replace("Z", "+00:00")).astimezone(timezone.utc))
    except ValueError as exc:
        raise BadItem(f"mastodon status {status.get('id', '?')}: bad time ({exc})") from None
    # a hashtag's posts are about its brand; a search's hits must name the brand (search matches loosely)
    brand = query.brand if query.key.startswith("tag:") else match_brand(text, [query.brand] if query.brand else brands)
    if brand is None or is_excluded(text, brand):
        raise NotAboutBrand(f"mastodon {status.get('id')}: does not name a configured brand")
    account = status.get("account") or {}
    return MentionRow(
        id=f"mastodon:{uri}", source="mastodon", native_id=uri, brand=brand.name,
        author=one_line(account.get("acct") or "") or None, url=status.get("url") or uri, text=text,
        lang=language_code(status.get("language")) or guess_language(text, brand.languages), created_at=created_at,
        collected_at=collected_at, raw=json.dumps(status, ensure_ascii=False, sort_keys=True, default=str))


# ---- replying -----------------------------------------------------------------------------------

def reply_client(settings: Settings):
    """The source's own client: its token must also carry the write:statuses scope."""
    return make_client(settings)


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str) -> str:
    """A public reply under the post, naming its author (Mastodon notifies only who is named); the
    key is Mastodon's Idempotency-Key, so a retried request posts once."""
    from mastodon import MastodonAPIError, MastodonNetworkError, MastodonRatelimitError

    status = reply_to.raw  # the status as this instance served it: its local id is what a reply names
    if not status.get("id"):
        raise ReplyRefused(f"the post's id on {settings.instance} was not stored")
    acct = (status.get("account") or {}).get("acct")
    body = text if not acct or f"@{acct}" in text else f"@{acct} {text}"
    try:
        posted = client.status_post(body, in_reply_to_id=status["id"], idempotency_key=key,
                                    visibility=status.get("visibility") if status.get("visibility") in (
                                        "public", "unlisted") else "public")
    except MastodonRatelimitError:
        raise ReplyRefused(f"Mastodon {settings.instance}: rate limit reached; try again in a few minutes") from None
    except MastodonAPIError as exc:
        raise ReplyRefused(f"Mastodon {settings.instance} refused the reply: {_api_reason(exc)} (does "
                           f"{settings.access_token_env} have the write:statuses scope?)") from None
    except MastodonNetworkError as exc:
        raise ReplyRefused(f"Mastodon {settings.instance} could not be reached: {type(exc).__name__}") from None
    return str(posted["id"])


def _api_reason(exc: Exception) -> str:
    """Mastodon.py's error args: (message, status code, reason, the server's error text)."""
    parts = [str(a) for a in getattr(exc, "args", ()) if a]
    return " ".join(parts[1:]) if len(parts) > 1 else (parts[0] if parts else type(exc).__name__)
