"""YouTube (Data API v3 through google-api-python-client): comments on the brand's own channel and on
chosen videos (a reviewer's unboxing, an ad), with an API key from the environment.

``commentThreads.list`` costs 1 quota unit per page of up to 100 comments; a Google Cloud project gets
10,000 units a day for free, so the budget is counted in units per day (UTC here; Google resets at
midnight Pacific time, so the two differ by hours, never by more than a day's units). Comments come
newest first; a query reads back to the newest comment committed and keeps its time as the cursor.
An edited comment comes back with a later ``updatedAt`` and replaces the stored text.

The discovery document is the one bundled with the client (``static_discovery``): building the
client makes no request, and ``api_root`` points it elsewhere (a proxy, a test server).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

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
    Budget,
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
from .retry import call_with_retries

TYPE = "youtube"
LABEL = "YouTube"


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """Comment threads on one brand's channel and videos."""

    kind = TYPE
    brand: str = setting()  # whose channel and videos these are: every comment is about this brand
    channel_id: str | None = setting(None)  # "UC...": comments on the channel and all its videos
    video_ids: tuple[str, ...] = setting(())  # other videos to follow (a review, a partner's video)
    api_key_env: str = setting("YOUTUBE_API_KEY")
    api_root: str = setting("https://youtube.googleapis.com/")
    # Replies post as the brand's channel: an API key cannot write. An OAuth client and a refresh token
    # granted by the channel with the youtube.force-ssl scope (each reply costs 50 quota units).
    client_id_env: str = setting("YOUTUBE_CLIENT_ID", reply=True)
    client_secret_env: str = setting("YOUTUBE_CLIENT_SECRET", reply=True)
    refresh_token_env: str = setting("YOUTUBE_REFRESH_TOKEN", reply=True)
    token_uri: str = setting("https://oauth2.googleapis.com/token")
    daily_quota_units: int = setting(10000, low=1)  # Google's free quota per project and day
    max_pages: int = setting(10, low=1, high=100)  # pages of 100 comments per query and run
    interval_minutes: float = setting(30.0, low=1)

    @property
    def budget(self) -> Budget:
        return Budget(self.daily_quota_units, "day", "quota units", "daily_quota_units")

    def problems(self, brands: Sequence[Brand]) -> Iterator[tuple[str, str]]:
        yield from super().problems(brands)
        if not self.channel_id and not self.video_ids:
            yield "channel_id", "set channel_id (the brand's channel, \"UC...\") or video_ids, or both"


def make_client(settings: Settings):
    from googleapiclient.discovery import build

    key = read_secret(settings.api_key_env, f"the YouTube Data API key of source {settings.name!r}")
    return build("youtube", "v3", developerKey=key, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": settings.api_root})


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    brand = next((b for b in brands if b.name == settings.brand), None)
    if brand is None:
        return []  # collecting for other brands only
    channel = [Query(f"channel:{settings.channel_id}", brand)] if settings.channel_id else []
    return channel + [Query(f"video:{video}", brand) for video in settings.video_ids]


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return 100 * settings.max_pages * len(queries(settings, brands))


Cursor = SinceCursor  # publishedAt of the newest comment committed (ISO)


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages of comment threads, newest first, back to the cursor; each page costs one quota unit."""
    kind, _, target = query.key.partition(":")
    where = {"allThreadsRelatedToChannelId": target} if kind == "channel" else {"videoId": target}

    def ask(token: str | None) -> tuple[list, str | None]:
        request = client.commentThreads().list(part="snippet", order="time", maxResults=100, textFormat="plainText",
                                               pageToken=token, **where)
        answer = _call(request, settings, sleep)
        return [t for t in answer.get("items") or [] if isinstance(t, dict)], answer.get("nextPageToken")

    # a thread without a time goes on and is reported as malformed; older ones are committed already
    return cursor.read_back(ask, _published, settings.max_pages, cost=1)


def _published(thread: dict) -> str | None:
    try:
        return iso(parse_timestamp(_comment(thread).get("publishedAt") or ""))
    except ValueError:
        return None


def _comment(thread: dict) -> dict:
    top = ((thread.get("snippet") or {}).get("topLevelComment") or {})
    return top.get("snippet") or {} if isinstance(top, dict) else {}


def _call(request, settings: Settings, sleep: Sleep) -> dict:
    from googleapiclient.errors import HttpError

    def once():
        try:
            return request.execute(num_retries=0)
        except HttpError as exc:
            if exc.status_code >= 500:
                raise _Server5xx(exc.status_code) from None
            raise

    def translate(exc: Exception) -> Exception:
        if isinstance(exc, _Server5xx | OSError):
            return SourceUnavailable(f"YouTube is unavailable after retries ({exc})")
        if isinstance(exc, HttpError):
            return _refusal(exc, settings)
        return exc

    return translated(lambda: call_with_retries(once, transient=(_Server5xx, OSError), what="YouTube", sleep=sleep),
                      translate)


class _Server5xx(Exception):
    pass


def _refusal(exc, settings: Settings) -> Exception:
    reasons = {d.get("reason") for d in (exc.error_details or []) if isinstance(d, dict)}
    if reasons & {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"}:
        daily = "quotaExceeded" in reasons
        return RateLimited(f"YouTube quota exceeded ({', '.join(sorted(reasons))}); collection resumes "
                           f"{'after the daily reset (midnight Pacific time)' if daily else 'at the next run'}",
                           resume=_next_pacific_midnight if daily else None)
    if reasons & {"commentsDisabled"}:
        return SourceRefused("YouTube: comments are disabled on this video; remove it from video_ids")
    named = f" {', '.join(sorted(reasons))}" if reasons else ""
    if exc.status_code in (400, 401, 403):
        return SourceRefused(f"YouTube refused the request ({exc.status_code}{named}): check {settings.api_key_env} "
                             "and that the YouTube Data API v3 is enabled for the key's project")
    return SourceRefused(f"YouTube refused the request ({exc.status_code}{named}): {exc.reason}")


def _next_pacific_midnight(now: datetime) -> datetime:
    """Google resets YouTube quotas at midnight Pacific time (PST, UTC-8; an hour early in summer)."""
    pacific = now - timedelta(hours=8)
    return datetime(pacific.year, pacific.month, pacific.day, tzinfo=timezone.utc) + timedelta(days=1, hours=8)


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    thread_id = item.get("id") if isinstance(item.get("id"), str) else None
    comment = _comment(item)
    text = clean(comment.get("textOriginal") or comment.get("textDisplay") or "").strip()
    try:
        created_at = iso(parse_timestamp(comment.get("publishedAt") or ""))
        edited = parse_timestamp(comment.get("updatedAt") or comment.get("publishedAt"))
    except ValueError as exc:
        raise BadItem(f"youtube comment {thread_id or '?'}: bad time ({exc})") from None
    if not thread_id or not text:
        raise BadItem(f"youtube comment {thread_id or '?'}: no id or text")
    brand = query.brand
    if brand is None or is_excluded(text, brand):
        raise NotAboutBrand(f"youtube comment {thread_id}: matches an exclusion of the brand")
    video = comment.get("videoId") or (item.get("snippet") or {}).get("videoId")
    url = (f"https://www.youtube.com/watch?v={video}&lc={thread_id}" if video
           else f"https://www.youtube.com/channel/{(item.get('snippet') or {}).get('channelId', '')}")
    return MentionRow(
        id=f"youtube:{thread_id}", source="youtube", native_id=thread_id, brand=brand.name,
        author=one_line(comment.get("authorDisplayName") or "") or None, url=url, text=text,
        lang=guess_language(text, brand.languages), created_at=created_at, collected_at=collected_at,
        raw=json.dumps(item, ensure_ascii=False, sort_keys=True), revision=int(edited.timestamp()))


# ---- replying -----------------------------------------------------------------------------------

WRITE_SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
REPLY_COST = 50  # quota units of comments.insert


def reply_client(settings: Settings):
    """The API as the brand's channel (OAuth, refreshed from the channel's refresh token)."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    needed_for = f"replies as the channel of YouTube source {settings.name!r} (scope youtube.force-ssl)"
    credentials = Credentials(token=None, refresh_token=read_secret(settings.refresh_token_env, needed_for),
                              client_id=read_secret(settings.client_id_env, needed_for),
                              client_secret=read_secret(settings.client_secret_env, needed_for),
                              token_uri=settings.token_uri, scopes=[WRITE_SCOPE])
    return build("youtube", "v3", credentials=credentials, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": settings.api_root})


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str) -> str:
    """A reply in the comment's thread. Not retried: a reply whose answer was lost may have been posted."""
    from google.auth.exceptions import RefreshError
    from googleapiclient.errors import HttpError

    snippet = reply_to.raw.get("snippet") or {}
    if snippet.get("canReply") is False:
        raise ReplyRefused("YouTube: replies are closed on this comment")
    parent = (snippet.get("topLevelComment") or {}).get("id") or reply_to.native_id
    try:
        made = client.comments().insert(part="snippet", body={"snippet": {"parentId": parent, "textOriginal": text}}
                                        ).execute(num_retries=0)
    except HttpError as exc:
        reasons = sorted({d.get("reason") for d in (exc.error_details or []) if isinstance(d, dict)} - {None})
        if "quotaExceeded" in reasons:
            raise ReplyRefused("YouTube quota exceeded for today (a reply costs 50 units); try again after "
                               "midnight Pacific time") from None
        raise ReplyRefused(f"YouTube refused the reply ({exc.status_code} {', '.join(reasons)}): the refresh token "
                           f"of {settings.refresh_token_env} must be the brand channel's, with youtube.force-ssl"
                           ) from None
    except RefreshError as exc:
        raise ReplyRefused(f"Google refused the OAuth refresh ({exc.args[0] if exc.args else exc}): check "
                           f"{settings.client_id_env}, {settings.client_secret_env} and {settings.refresh_token_env}"
                           ) from None
    except OSError as exc:
        raise ReplyRefused(f"YouTube could not be reached ({exc}); the reply may have been posted: check "
                           f"{reply_to.url or 'the video'} before sending again") from None
    return str(made["id"])
