"""Bluesky (atproto): ``app.bsky.feed.searchPosts`` per brand keyword, newest first, with an app
password from the environment (Settings → Privacy and security → App passwords).

Each query keeps the time of the newest post committed and asks ``since`` it; a post is keyed by its
``at://`` uri, so the overlap of ``since`` (inclusive) saves nothing twice. A 429 waits for the time
its ``ratelimit-reset`` header names. A post's address is built from its author's handle and the
record key at the end of its uri.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.secrets import read_secret
from listener.kernel.textfiles import clean, one_line
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import MentionRow

from ..brands import is_excluded, match_brand
from ..language import guess_language, language_code
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
from .retry import call_with_retries

TYPE = "bluesky"
LABEL = "Bluesky"


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """Bluesky search with an account's app password."""

    kind = TYPE
    handle_env: str = setting("BLUESKY_HANDLE")  # e.g. caffeaurora.bsky.social
    app_password_env: str = setting("BLUESKY_APP_PASSWORD")
    service: str = setting("https://bsky.social")  # the account's PDS (bsky.social for most accounts)
    languages: tuple[str, ...] = setting(())  # only posts in these languages; empty: any
    limit: int = setting(100, low=1, high=100)  # posts per request
    max_pages: int = setting(5, low=1, high=100)


def make_client(settings: Settings):
    from atproto import Client

    needed_for = f"the Bluesky account of source {settings.name!r}"
    handle, password = read_secret(settings.handle_env, needed_for), read_secret(settings.app_password_env, needed_for)
    client = Client(base_url=f"{settings.service.rstrip('/')}/xrpc")
    translated(lambda: client.login(handle, password, fetch_bsky_profile=False), lambda exc: _translate(exc, settings))
    return client


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    return [Query(keyword.lstrip("@"), brand) for brand in brands for keyword in brand.keywords]


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.limit * settings.max_pages * len(queries(settings, brands))


Cursor = SinceCursor  # createdAt of the newest post committed (ISO)


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    page_cursor, reached = None, cursor
    for number in range(settings.max_pages):
        params = {"q": query.key, "sort": "latest", "limit": settings.limit, "since": cursor.since,
                  "cursor": page_cursor}
        if len(settings.languages) == 1:  # the API filters on one language; several are filtered here
            params["lang"] = settings.languages[0]
        answer = _call(lambda: client.app.bsky.feed.search_posts({k: v for k, v in params.items() if v}), settings,
                       sleep)
        posts = [post.model_dump(mode="json", by_alias=True) for post in answer.posts]
        times = [_when(p) for p in posts]
        reached = reached.advanced(times)
        page_cursor = answer.cursor
        done = not page_cursor or not posts or number == settings.max_pages - 1
        yield Page([{"post": p, "languages": list(settings.languages)} for p in posts], reached if done else None)
        if done:
            return


def _when(post: dict) -> str | None:
    try:
        return iso(parse_timestamp((post.get("record") or {}).get("createdAt") or ""))
    except ValueError:
        return None


def _call(call, settings: Settings, sleep: Sleep):
    from atproto.exceptions import NetworkError

    return translated(lambda: call_with_retries(call, transient=(NetworkError,), what="Bluesky search", sleep=sleep),
                      lambda exc: _translate(exc, settings))


def _translate(exc: Exception, settings: Settings) -> Exception:
    from atproto.exceptions import NetworkError, RateLimitExceededError, RequestException, UnauthorizedError

    response = getattr(exc, "response", None)
    if isinstance(exc, RateLimitExceededError):
        reset = (getattr(response, "headers", None) or {}).get("ratelimit-reset")
        resume = datetime.fromtimestamp(int(reset), timezone.utc) if str(reset or "").isdigit() else None
        return RateLimited(f"Bluesky rate limit reached; collection resumes after {iso(resume) if resume else 'a while'}",
                           resume)
    if isinstance(exc, UnauthorizedError):
        return SourceRefused(f"Bluesky refused the account (401/403): check {settings.handle_env} and "
                             f"{settings.app_password_env} (an app password, not the account's password)")
    if isinstance(exc, NetworkError) or (isinstance(exc, RequestException)
                                         and getattr(response, "status_code", 0) >= 500):
        return SourceUnavailable(f"Bluesky is unavailable after retries: {type(exc).__name__}")
    if isinstance(exc, RequestException):
        return SourceRefused(f"Bluesky refused the request ({getattr(response, 'status_code', '?')})")
    return exc


def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    post = item.get("post") if isinstance(item.get("post"), dict) else {}
    record, author = post.get("record") or {}, post.get("author") or {}
    uri, text, handle = post.get("uri") or "", clean(record.get("text") or "").strip(), author.get("handle")
    try:
        created_at = iso(parse_timestamp(record.get("createdAt") or ""))
    except ValueError as exc:
        raise BadItem(f"bluesky post {uri or '?'}: bad time ({exc})") from None
    if not uri.startswith("at://") or not text or not handle:
        raise BadItem(f"bluesky post {uri or '?'}: no uri, text or author")
    langs = [code for code in map(language_code, record.get("langs") or []) if code]
    wanted = item.get("languages") or []
    if wanted and langs and not set(langs) & set(wanted):
        raise NotAboutBrand(f"bluesky post {uri}: in {', '.join(langs)}")
    # Search matches words loosely; keep posts that name the brand as configured.
    brand = match_brand(text, [query.brand])
    if brand is None or is_excluded(text, brand):
        raise NotAboutBrand(f"bluesky post {uri}: does not name brand {query.brand.name!r}")
    return MentionRow(
        id=f"bluesky:{uri}", source="bluesky", native_id=uri, brand=brand.name, author=one_line(handle),
        url=f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}", text=text,
        lang=(langs[0] if langs else None) or guess_language(text, brand.languages), created_at=created_at,
        collected_at=collected_at, raw=json.dumps(post, ensure_ascii=False, sort_keys=True))


# ---- replying -----------------------------------------------------------------------------------

def reply_client(settings: Settings):
    """The source's own login: an app password can post."""
    return make_client(settings)


def reply_ready(settings: Settings) -> None:
    """Whether a reply could be posted, without logging in: the reply page asks on every view, and
    Bluesky limits logins (createSession) per account, so a login per view could lock replies out."""
    needed_for = f"the Bluesky account of source {settings.name!r}"
    read_secret(settings.handle_env, needed_for)
    read_secret(settings.app_password_env, needed_for)


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str) -> str:
    """A post in reply to the customer's (its parent), in the same thread (its root). Not retried: a
    reply whose answer was lost may have been posted."""
    from atproto import models
    from atproto.exceptions import AtProtocolError

    post = reply_to.raw
    if not post.get("uri") or not post.get("cid"):
        raise ReplyRefused("the post's uri and content id were not stored")
    ref = models.ComAtprotoRepoStrongRef.Main
    parent = ref(uri=post["uri"], cid=post["cid"])
    root = ((post.get("record") or {}).get("reply") or {}).get("root")  # the customer's post may itself be a reply
    langs = [code for code in (post.get("record") or {}).get("langs") or [] if code][:1] or None
    handle = read_secret(settings.handle_env, f"the Bluesky account of source {settings.name!r}")
    try:
        # profile_identify: the login skipped fetching the profile, so the client does not know its own repo
        made = client.send_post(text, profile_identify=handle, langs=langs, reply_to=models.AppBskyFeedPost.ReplyRef(
            parent=parent, root=ref(uri=root["uri"], cid=root["cid"]) if root else parent))
    except AtProtocolError as exc:
        raise ReplyRefused(str(_translate(exc, settings)).replace("collection resumes", "try again")) from None
    return made.uri
