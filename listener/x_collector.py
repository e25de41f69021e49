"""The X collector: recent search (API v2) per brand, through tweepy, with a crash-safe cursor.

Cursor, per query, as JSON: ``since_id`` is the newest tweet of the last completed pass. While a
pass pages back through older results it also stores ``newest_id`` (where the next pass will start)
and ``until_id`` (the oldest tweet committed so far). A pass cut short by a crash, a rate limit or
``max_pages`` resumes with ``since_id`` + ``until_id``, so it neither skips nor repeats a tweet; only
when it reaches the end does ``since_id`` move to ``newest_id``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from surveys.timestamps import iso, parse_timestamp

from .alerts.outbox import NOTICE_ALERT, enqueue
from .brands import is_excluded
from .config import Brand, XSource
from .errors import BudgetSpent, RateLimited, SourceRefused, SourceUnavailable
from .importer import BadItem
from .language import guess_language
from .store import MentionRow, get_cursor, set_cursor

log = logging.getLogger(__name__)

TWEET_FIELDS = ["created_at", "lang", "author_id", "conversation_id"]
USER_FIELDS = ["username", "name"]
MAX_QUERY_LENGTH = 512  # recent search on the Basic and Pro tiers


# ---- the query (pure) -------------------------------------------------------------------------

def _term(word: str) -> str:
    return word if word[:1] in "@#$" and " " not in word else '"' + word.replace('"', "") + '"'


def build_query(brand: Brand, languages: Sequence[str] = (), include_retweets: bool = False) -> str:
    """``("Caffè Aurora" OR @CaffeAurora) -"aurora boreale" -is:retweet (lang:it OR lang:en)``."""
    parts = ["(" + " OR ".join(_term(k) for k in brand.keywords) + ")"]
    parts += ["-" + _term(e) for e in brand.exclude]
    if not include_retweets:
        parts.append("-is:retweet")
    langs = list(languages or brand.languages)
    if langs:
        parts.append(f"lang:{langs[0]}" if len(langs) == 1 else "(" + " OR ".join(f"lang:{l}" for l in langs) + ")")
    query = " ".join(parts)
    if len(query) > MAX_QUERY_LENGTH:
        raise SourceRefused(f"the X query for brand {brand.name!r} is {len(query)} characters, over X's "
                            f"{MAX_QUERY_LENGTH}: use fewer keywords or exclusions")
    return query


# ---- one tweet -> one row (pure) --------------------------------------------------------------

def tweet_to_row(tweet: dict, users: dict[str, dict], brand: Brand, collected_at: str) -> MentionRow:
    try:
        tweet_id, text, created = str(tweet["id"]), tweet["text"], tweet["created_at"]
        created_at = iso(parse_timestamp(created))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadItem(f"tweet {tweet.get('id', '?')}: malformed (missing or bad {exc})") from None
    if not isinstance(text, str) or not text.strip():
        raise BadItem(f"tweet {tweet_id}: no text")
    user = users.get(str(tweet.get("author_id")), {})
    username = user.get("username")
    url = f"https://x.com/{username}/status/{tweet_id}" if username else f"https://x.com/i/web/status/{tweet_id}"
    lang = tweet.get("lang") if tweet.get("lang") not in (None, "und", "zxx", "qme") else guess_language(text)
    raw = {"tweet": tweet, "author": user} if user else {"tweet": tweet}
    return MentionRow(
        id=f"x:{tweet_id}", source="x", native_id=tweet_id, brand=brand.name,
        author=username or tweet.get("author_id"), url=url, text=text, lang=lang, created_at=created_at,
        collected_at=collected_at, raw=json.dumps(raw, ensure_ascii=False, sort_keys=True),
    )


def page_rows(page: dict, brand: Brand, collected_at: str,
              on_bad: Callable[[str], None]) -> tuple[list[MentionRow], int]:
    """The page's rows, and how many tweets an exclusion dropped; malformed tweets go to ``on_bad``."""
    users = {str(u.get("id")): u for u in (page.get("includes") or {}).get("users", []) if isinstance(u, dict)}
    rows, excluded = [], 0
    for tweet in page.get("data") or []:
        try:
            row = tweet_to_row(tweet if isinstance(tweet, dict) else {}, users, brand, collected_at)
        except BadItem as exc:
            on_bad(str(exc))
            continue
        if is_excluded(row.text, brand):
            excluded += 1
        else:
            rows.append(row)
    return rows, excluded


# ---- the cursor --------------------------------------------------------------------------------

@dataclass(frozen=True)
class XCursor:
    since_id: str | None = None
    newest_id: str | None = None  # set while a pass is in progress
    until_id: str | None = None

    @classmethod
    def load(cls, value: str | None) -> XCursor:
        return cls(**json.loads(value)) if value else cls()

    def dump(self) -> str:
        return json.dumps({"since_id": self.since_id, "newest_id": self.newest_id, "until_id": self.until_id})

    def after_page(self, meta: dict) -> XCursor:
        """The cursor once a page is committed; ``next_token`` absent means the pass is complete."""
        newest = self.newest_id or meta.get("newest_id") or self.since_id
        if not meta.get("next_token"):
            return XCursor(since_id=newest)
        return XCursor(since_id=self.since_id, newest_id=newest, until_id=meta.get("oldest_id") or self.until_id)


# ---- talking to X ------------------------------------------------------------------------------

def make_client(source: XSource):
    import tweepy

    # return_type=dict: our transforms read the API's own JSON, the same shape as the recorded fixtures.
    return tweepy.Client(bearer_token=source.bearer_token(), return_type=dict, wait_on_rate_limit=False)


def translate_error(exc: Exception, source: XSource) -> Exception:
    import requests
    import tweepy

    if isinstance(exc, tweepy.TooManyRequests):
        reset = getattr(exc, "reset_time", None) or _header_int(exc, "x-rate-limit-reset")
        resume = datetime.fromtimestamp(reset, timezone.utc) if reset else None
        return RateLimited(f"X rate limit reached; collection resumes after {iso(resume) if resume else 'the window resets'}",
                           resume)
    if isinstance(exc, tweepy.Unauthorized):
        return SourceRefused(f"X refused the bearer token (401 Unauthorized): check the token in "
                             f"{source.bearer_token_env} (sources {source.name!r})")
    if isinstance(exc, tweepy.Forbidden):
        return SourceRefused(f"X refused recent search (403 Forbidden): the app's API tier likely has no search "
                             f"access (the Free tier has none; Basic or higher does); token from "
                             f"{source.bearer_token_env} (sources {source.name!r})")
    if isinstance(exc, tweepy.BadRequest):
        return SourceRefused(f"X rejected the request (400): {'; '.join(exc.api_messages) or exc}")
    if isinstance(exc, (tweepy.TwitterServerError, requests.RequestException)):
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return SourceUnavailable(f"X is unavailable after retries: {type(exc).__name__}: {first_line}")
    return exc


def _header_int(exc, name: str) -> int | None:
    value = getattr(getattr(exc, "response", None), "headers", {}).get(name)
    return int(value) if value and str(value).isdigit() else None


def transient_errors() -> tuple[type[BaseException], ...]:
    import requests
    import tweepy

    return (tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout)


def search_page(client, query: str, cursor: XCursor, next_token: str | None, source: XSource) -> dict:
    return client.search_recent_tweets(
        query, since_id=cursor.since_id, until_id=cursor.until_id, next_token=next_token,
        max_results=source.max_results, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
        user_fields=USER_FIELDS,
    )


# ---- the monthly read budget -------------------------------------------------------------------

def budget_key(now: datetime) -> str:
    return f"budget:{now:%Y-%m}"


def tweets_read(db, source: XSource, now: datetime) -> int:
    value = get_cursor(db, f"x:{source.name}", budget_key(now))
    return int(value) if value else 0


def check_budget(db, source: XSource, now: datetime, recipients: Sequence[str]) -> None:
    """Raise BudgetSpent (and queue one notice a month) once the month's reads reach the budget."""
    if source.monthly_read_budget is None:
        return
    read = tweets_read(db, source, now)
    if read < source.monthly_read_budget:
        return
    month = f"{now:%Y-%m}"
    details = {"title": f"X read budget for {month} spent: collection from X is paused",
               "body": f"Source {source.name!r} has read {read} tweets in {month}, its monthly_read_budget is "
                       f"{source.monthly_read_budget}. Collection from X resumes next month, or raise the budget "
                       f"in the configuration."}
    with db.atomic():
        enqueue(db, NOTICE_ALERT, f"x:{source.name}:budget:{month}", recipients, iso(now), details=details)
    raise BudgetSpent(f"X read budget spent: {read} of {source.monthly_read_budget} tweets in {month}")


def count_reads(db, source: XSource, now: datetime, tweets: int) -> None:
    if source.monthly_read_budget is not None and tweets:
        set_cursor(db, f"x:{source.name}", budget_key(now), str(tweets_read(db, source, now) + tweets), iso(now))
