"""Reddit: submissions found by search, comments of named subreddits, through praw (read-only).

Reddit's API has no comment search, so comments come from the newest comments of the configured
subreddits and are matched to brands here. Listings come newest first; each query keeps a cursor of
(newest ``created_utc`` committed, ids seen at that second), so nothing is missed or repeated, and it
moves only in the transaction that commits the last rows it covers. praw (prawcore) spaces requests
by Reddit's rate-limit headers, keeping under the 100 queries a minute an OAuth client may make.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.secrets import read_secret
from listener.kernel.times import iso
from listener.sources.base import MentionRow

from ..brands import is_excluded, match_brand
from ..language import guess_language
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

TYPE = "reddit"
LABEL = "Reddit"
log = logging.getLogger(__name__)
GONE = ("[deleted]", "[removed]")


def _subreddit_name(name: str) -> str:
    return name.removeprefix("r/")


def _subreddits_problem(names: tuple[str, ...]) -> str | None:
    bad = [n for n in names if not n.replace("_", "").isalnum()]
    return f"expected subreddit names such as italy, got {bad[0]!r}" if bad else None


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """Read-only Reddit (app-only OAuth) search of submissions, and comments of named subreddits."""

    kind = TYPE
    client_id_env: str = setting("REDDIT_CLIENT_ID")
    client_secret_env: str = setting("REDDIT_CLIENT_SECRET")
    user_agent: str = setting("ascolto/0.1 (self-hosted social listening)")
    subreddits: tuple[str, ...] = setting((), convert=lambda names: tuple(map(_subreddit_name, names)),
                                          check=_subreddits_problem)  # empty: all of Reddit (submissions only)
    comments: bool = setting(True)
    limit: int = setting(250, low=1, high=1000)  # newest items read per query and run
    overlap_minutes: float = setting(360.0, low=0)  # read back this far: Reddit search indexes posts late
    # Replies post as the brand's account (a "script" app of that account); collection needs neither.
    username_env: str = setting("REDDIT_USERNAME", reply=True)
    password_env: str = setting("REDDIT_PASSWORD", reply=True)

    def credentials(self) -> tuple[str, str]:
        needed_for = f"the Reddit app of source {self.name!r}"
        return read_secret(self.client_id_env, needed_for), read_secret(self.client_secret_env, needed_for)


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    found = [Query(f"search:{brand.name}", brand) for brand in brands]
    if settings.comments and settings.subreddits:
        found.append(Query("comments"))  # matched to brands by keyword, item by item
    return found


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.limit * len(queries(settings, brands))


def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """One page: every item newer than the cursor (praw pages the listing itself, and spaces its
    requests by Reddit's rate-limit headers)."""
    listing = submissions(client, settings, query.brand) if query.brand else comments(client, settings)
    items = translated(lambda: new_items(listing, cursor, settings.limit, settings.overlap_minutes * 60),
                       lambda exc: translate_error(exc, settings))
    yield Page(items, cursor.advanced(items))


# ---- talking to Reddit -------------------------------------------------------------------------

def make_client(settings: Settings):
    import praw

    client_id, client_secret = settings.credentials()
    # check_for_updates would ask PyPI on start; an app-only client (no username) is read-only.
    return praw.Reddit(client_id=client_id, client_secret=client_secret, user_agent=settings.user_agent,
                       check_for_updates=False, check_for_async=False)


def search_query(brand: Brand) -> str:
    return " OR ".join('"' + k.lstrip("@#").replace('"', "") + '"' for k in brand.keywords)


def submissions(reddit, settings: Settings, brand: Brand) -> Iterable:
    where = "+".join(settings.subreddits) or "all"
    return reddit.subreddit(where).search(search_query(brand), sort="new", time_filter="week", limit=settings.limit)


def comments(reddit, settings: Settings) -> Iterable:
    return reddit.subreddit("+".join(settings.subreddits)).comments(limit=settings.limit)


def item_data(item) -> dict:
    """A praw Submission or Comment back to the API's JSON shape (names for author and subreddit)."""
    data = {k: v for k, v in vars(item).items() if not k.startswith("_") and k not in ("replies", "comments")}
    for name in ("author", "subreddit"):
        if data.get(name) is not None:
            data[name] = str(data[name])
    data["kind"] = getattr(item, "fullname", "t3_").split("_")[0]
    return data


def translate_error(exc: Exception, settings: Settings) -> Exception:
    import prawcore

    if isinstance(exc, prawcore.TooManyRequests):
        return RateLimited("Reddit rate limit reached (429); collection resumes at the next run")
    if isinstance(exc, prawcore.OAuthException) or (
            isinstance(exc, prawcore.ResponseException) and exc.response.status_code == 401):
        return SourceRefused(f"Reddit refused the app credentials (401): check {settings.client_id_env} and "
                             f"{settings.client_secret_env} (sources {settings.name!r})")
    if isinstance(exc, prawcore.Forbidden):
        return SourceRefused(f"Reddit refused access (403): is one of {', '.join(settings.subreddits) or 'r/all'} "
                             f"private or banned? (sources {settings.name!r})")
    if isinstance(exc, (prawcore.NotFound, prawcore.Redirect)):
        return SourceRefused(f"a subreddit in sources {settings.name!r} does not exist: {', '.join(settings.subreddits)}")
    if isinstance(exc, (prawcore.ServerError, prawcore.RequestException)):
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return SourceUnavailable(f"Reddit is unavailable after retries: {type(exc).__name__}: {first_line}")
    return exc


# ---- one item -> one row (pure) ----------------------------------------------------------------

def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    data, search_brand = item, query.brand
    try:
        fullname, created = str(data["name"]), float(data["created_utc"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadItem(f"reddit item {data.get('id', '?')}: malformed ({exc})") from None
    is_comment = fullname.startswith("t1_")
    body = data.get("body") if is_comment else data.get("selftext")
    if body in GONE:  # removed by the moderators or deleted: what is left (a title) is not the post
        raise NotAboutBrand(f"{fullname}: deleted or removed")
    text = body if is_comment else "\n\n".join(part for part in (data.get("title"), body) if part)
    if not text:
        raise NotAboutBrand(f"{fullname}: no text")
    # Reddit search stems and matches loosely; keep only items that name the brand as configured.
    brand = match_brand(text, [search_brand] if search_brand else brands)
    if brand is None or is_excluded(text, brand):
        raise NotAboutBrand(f"{fullname}: does not name a configured brand")
    author = data.get("author") if data.get("author") not in (None, *GONE) else None  # a deleted account's words stay
    return MentionRow(
        id=f"reddit:{fullname}", source="reddit", native_id=fullname, brand=brand.name, author=author,
        url=_url(data, fullname), text=text, lang=guess_language(text, brand.languages),
        created_at=iso(datetime.fromtimestamp(created, timezone.utc)), collected_at=collected_at,
        raw=json.dumps(data, ensure_ascii=False, sort_keys=True, default=str),
    )


def _url(data: dict, fullname: str) -> str | None:
    """The item's page: its permalink, or for a comment without one, built from its post and its id."""
    permalink = data.get("permalink") or ""
    if permalink.startswith("/"):
        return f"https://www.reddit.com{permalink}"
    if permalink:
        return permalink
    post = str(data.get("link_id") or "").removeprefix("t3_")
    if fullname.startswith("t1_") and post:
        return f"https://www.reddit.com/comments/{post}/_/{fullname.removeprefix('t1_')}/"
    return None


# ---- the cursor --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor(JsonCursor):
    """The newest ``created_utc`` committed. Reddit's search indexes posts minutes to hours late, so
    each run reads back an overlap before it: a post indexed late is still found, and one already
    stored is recognised by its id and not saved twice."""

    after: float = 0.0

    def advanced(self, items: Sequence[dict]) -> Cursor:
        newest = max((float(d.get("created_utc") or 0) for d in items), default=self.after)
        return Cursor(max(newest, self.after))


def new_items(listing: Iterable, cursor: Cursor, limit: int, overlap_seconds: float = 0) -> list[dict]:
    """Items of the newest-first listing back to the cursor less the overlap."""
    since = cursor.after - overlap_seconds
    found, read = [], 0
    for item in listing:
        read += 1
        data = item_data(item)
        if float(data.get("created_utc") or 0) < since:
            break
        found.append(data)
    if read >= limit and cursor.after:
        log.warning("Reddit: %d items read without reaching the last run's newest; some may be missed "
                    "(raise the source's limit or shorten its interval)", read)
    return found


# ---- replying -----------------------------------------------------------------------------------

def reply_client(settings: Settings):
    """The same app, logged in as the brand's account (a script app): the only way Reddit lets an app
    post. Accounts with two-factor login cannot be used this way."""
    import praw

    client_id, client_secret = settings.credentials()
    needed_for = f"replies through the Reddit source {settings.name!r} (the brand account's login)"
    return praw.Reddit(client_id=client_id, client_secret=client_secret, user_agent=settings.user_agent,
                       username=read_secret(settings.username_env, needed_for),
                       password=read_secret(settings.password_env, needed_for),
                       check_for_updates=False, check_for_async=False)


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str) -> str:
    """A comment under the submission (t3_) or comment (t1_). Not retried: a reply whose answer was
    lost may have been posted (Reddit takes no idempotency key)."""
    import prawcore
    from praw.exceptions import RedditAPIException

    kind, _, short = reply_to.native_id.partition("_")
    if kind not in ("t1", "t3") or not short:
        raise ReplyRefused(f"{reply_to.native_id!r} is not a Reddit post or comment id")
    thing = client.comment(short) if kind == "t1" else client.submission(short)
    try:
        made = thing.reply(text)
    except RedditAPIException as exc:  # Reddit's refusals come in a 200 answer: RATELIMIT, THREAD_LOCKED...
        raise ReplyRefused("Reddit refused the reply: " + "; ".join(
            f"{item.error_type}: {item.message}" for item in exc.items)) from None
    except prawcore.TooManyRequests as exc:
        raise ReplyRefused(f"Reddit: rate limit reached; try again in {exc.retry_after or 'a few'} seconds") from None
    except prawcore.Forbidden:
        raise ReplyRefused("Reddit refused the reply (403): a locked thread, a ban, or an app that is not the "
                           "brand account's script app") from None
    except prawcore.OAuthException as exc:
        raise ReplyRefused(f"Reddit refused the login ({exc.error}): check {settings.username_env} and "
                           f"{settings.password_env}") from None
    except (prawcore.ServerError, prawcore.RequestException) as exc:
        raise ReplyRefused(f"Reddit could not be reached ({type(exc).__name__}); the reply may have been posted: "
                           f"check {reply_to.url or 'the post'} before sending again") from None
    if made is None:  # quarantined subreddits answer without the comment
        raise ReplyRefused("Reddit took the reply but did not return it (a quarantined subreddit?)")
    return made.fullname
