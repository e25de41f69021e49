"""X: recent search (API v2) per brand, through tweepy, with a crash-safe cursor and a read budget.

X reads are billed per post and per user object returned (pay-per-use): the budget counts both, and
``include_authors = false`` saves the user objects (authors are then stored by id). A retweet is
stored as its original (full text, one mention and one alert however often it is retweeted); an
edited post is one mention with its latest text. When the stored ``since_id`` is older than the 7
days recent search covers, X refuses it; the pass then starts again over the last 7 days, and the
idempotent keys keep what is stored. 402 (the account's credits are spent) pauses X for a day with
one notice.

Cursor, per query, as JSON: ``since_id`` is the newest tweet of the last completed pass. While a
pass pages back through older results it also stores ``newest_id`` (where the next pass will start)
and ``until_id`` (the oldest tweet committed so far). A pass cut short by a crash, a rate limit or
``max_pages`` resumes with ``since_id`` + ``until_id``, so it neither skips nor repeats a tweet; only
when it reaches the end does ``since_id`` move to ``newest_id``.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from listener.kernel.errors import AscoltoError, BudgetSpent, RateLimited, SourceRefused, SourceUnavailable
from listener.kernel.secrets import read_secret
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import MentionRow

from ..brands import is_excluded
from ..language import guess_language, language_code
from ..settings import Brand, setting
from .base import (
    BadItem,
    Budget,
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
from .retry import call_with_retries

TYPE = "x"
LABEL = "X"
TWEET_FIELDS = ["created_at", "lang", "author_id", "conversation_id", "note_tweet", "referenced_tweets",
                "edit_history_tweet_ids"]
USER_FIELDS = ["username", "name"]
MAX_QUERY_LENGTH = 512  # recent search on the Basic and Pro tiers
CREDITS_PAUSE = timedelta(hours=24)
log = logging.getLogger(__name__)


class StaleSinceId(SourceRefused):
    """X refused the cursor's since_id: it is older than the 7 days recent search covers."""


def _language_codes_problem(codes: tuple[str, ...]) -> str | None:
    bad = [c for c in codes if not (2 <= len(c) <= 3 and c.isalpha())]
    return f"expected language codes such as it or en, got {bad[0]!r}" if bad else None


@dataclass(frozen=True, kw_only=True)
class Settings(SourceSettings):
    """Recent search on X (API v2) with an app bearer token."""

    kind = TYPE
    bearer_token_env: str = setting("X_BEARER_TOKEN")
    languages: tuple[str, ...] = setting((), check=_language_codes_problem)  # empty: each brand's languages
    include_retweets: bool = setting(False)
    max_results: int = setting(100, low=10, high=100)  # per page
    max_pages: int = setting(10, low=1, high=1000)  # per brand and run: bounds a backfill
    include_authors: bool = setting(True)  # user objects cost more than posts; without them authors are ids
    monthly_read_budget: int | None = setting(None, low=1)  # posts and user objects read per calendar month
    # Replies: the brand's account (its @handle) and its OAuth 1.0a user keys, with "Read and write"
    # access. Since February 2026 X takes an app's reply only to a post that mentions that account.
    reply_as: str = setting("", convert=lambda handle: handle.lstrip("@"))
    consumer_key_env: str = setting("X_CONSUMER_KEY", reply=True)
    consumer_secret_env: str = setting("X_CONSUMER_SECRET", reply=True)
    access_token_env: str = setting("X_ACCESS_TOKEN", reply=True)
    access_token_secret_env: str = setting("X_ACCESS_TOKEN_SECRET", reply=True)

    @property
    def budget(self) -> Budget | None:
        if self.monthly_read_budget is None:
            return None
        return Budget(self.monthly_read_budget, "month", "posts and user objects", "monthly_read_budget")

    @property
    def expansions(self) -> list[str]:
        found = ["author_id"] if self.include_authors else []
        if self.include_retweets:  # the original of a retweet, and its author
            found += ["referenced_tweets.id"] + (["referenced_tweets.id.author_id"] if self.include_authors else [])
        return found


def make_client(settings: Settings):
    import tweepy

    token = read_secret(settings.bearer_token_env, f"the X bearer token of source {settings.name!r}")
    # return_type=dict: our transforms read the API's own JSON, the same shape as the recorded fixtures.
    return tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)


def expected_items(settings: Settings, brands: Sequence[Brand]) -> int:
    return settings.max_pages * settings.max_results * len(brands)


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
        parts.append(f"lang:{langs[0]}" if len(langs) == 1 else "(" + " OR ".join(f"lang:{code}" for code in langs) + ")")
    query = " ".join(parts)
    if len(query) > MAX_QUERY_LENGTH:
        raise SourceRefused(f"the X query for brand {brand.name!r} is {len(query)} characters, over X's "
                            f"{MAX_QUERY_LENGTH}: use fewer keywords or exclusions")
    return query


def queries(settings: Settings, brands: Sequence[Brand]) -> list[Query]:
    return [Query(build_query(brand, settings.languages, settings.include_retweets), brand) for brand in brands]


# ---- one tweet -> one row (pure) --------------------------------------------------------------

def item_to_row(item: dict, query: Query, brands: Sequence[Brand], collected_at: str) -> MentionRow:
    """An item is a post (for a retweet, its original) with its author from the page's ``includes``:
    ``{"tweet": ..., "author": ...}``. The mention is keyed by the first id of the post's edit history,
    so that an edited post stays one mention; its revision is the latest id."""
    tweet = item.get("tweet") if isinstance(item.get("tweet"), dict) else {}
    try:
        tweet_id, created = str(tweet["id"]), tweet["created_at"]
        text = (tweet.get("note_tweet") or {}).get("text") or tweet["text"]  # a long post's whole text
        created_at = iso(parse_timestamp(created))
        revision = int(tweet_id)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadItem(f"tweet {tweet.get('id', '?')}: malformed (missing or bad {exc})") from None
    if not isinstance(text, str) or not text.strip():
        raise BadItem(f"tweet {tweet_id}: no text")
    text = html.unescape(text)  # X sends &amp; &lt; &gt; escaped
    history = tweet.get("edit_history_tweet_ids")
    native_id = str(history[0]) if isinstance(history, list) and history else tweet_id
    if is_excluded(text, query.brand):
        raise NotAboutBrand(f"tweet {tweet_id}: matches an exclusion of brand {query.brand.name!r}")
    user = item.get("author") or {}
    username = user.get("username")
    url = f"https://x.com/{username}/status/{tweet_id}" if username else f"https://x.com/i/web/status/{tweet_id}"
    lang = language_code(tweet.get("lang")) or guess_language(text)
    raw = {"tweet": tweet, "author": user} if user else {"tweet": tweet}
    return MentionRow(
        id=f"x:{native_id}", source="x", native_id=native_id, brand=query.brand.name,
        author=username or tweet.get("author_id"), url=url, text=text, lang=lang, created_at=created_at,
        collected_at=collected_at, raw=json.dumps(raw, ensure_ascii=False, sort_keys=True), revision=revision,
    )


def page_items(page: dict) -> list[dict]:
    """The page's posts, each with its author from ``includes.users``; a retweet is its original, from
    ``includes.tweets`` (the retweet's own text is cut at 280 characters and says nothing new)."""
    includes = page.get("includes") or {}
    users = {str(u.get("id")): u for u in includes.get("users", []) if isinstance(u, dict)}
    originals = {str(t.get("id")): t for t in includes.get("tweets", []) if isinstance(t, dict)}
    items = []
    for tweet in page.get("data") or []:
        if not isinstance(tweet, dict):
            items.append({"tweet": None, "author": None})
            continue
        retweeted = next((r.get("id") for r in tweet.get("referenced_tweets") or []
                          if isinstance(r, dict) and r.get("type") == "retweeted"), None)
        post = originals.get(str(retweeted), tweet)
        items.append({"tweet": post, "author": users.get(str(post.get("author_id")))})
    return items


def page_cost(page: dict) -> int:
    """What X bills for a page: every post and every user object it returned."""
    includes = page.get("includes") or {}
    return len(page.get("data") or []) + len(includes.get("tweets") or []) + len(includes.get("users") or [])


# ---- the cursor --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor(JsonCursor):
    since_id: str | None = None
    newest_id: str | None = None  # set while a pass is in progress
    until_id: str | None = None

    def after_page(self, meta: dict) -> Cursor:
        """The cursor once a page is committed; ``next_token`` absent means the pass is complete."""
        newest = self.newest_id or meta.get("newest_id") or self.since_id
        if not meta.get("next_token"):
            return Cursor(since_id=newest)
        return Cursor(since_id=self.since_id, newest_id=newest, until_id=meta.get("oldest_id") or self.until_id)


# ---- talking to X ------------------------------------------------------------------------------

def fetch(client, settings: Settings, query: Query, cursor: Cursor, sleep: Sleep) -> Iterator[Page]:
    """Pages of one search, newest first, at most ``max_pages``.

    X's next_token belongs to the request that returned it: every page of this run is asked with the
    since_id/until_id the run started from, while the cursor each page carries moves page by page.
    """
    def ask(asked: Cursor, next_token: str | None) -> dict:
        return translated(
            lambda: call_with_retries(lambda: search_page(client, query.key, asked, next_token, settings),
                                      transient=transient_errors(), what=f"X search for {query.brand.name}",
                                      sleep=sleep),
            lambda exc: translate_error(exc, settings))

    asked, next_token = cursor, None
    for number in range(settings.max_pages):
        try:
            page = ask(asked, next_token)
        except StaleSinceId:
            if number or (asked.since_id is None and asked.until_id is None):
                raise
            log.warning("X: the cursor of %s is older than 7 days; searching the last 7 days again",
                        query.brand.name)
            asked = cursor = Cursor()  # a new pass over all that recent search covers
            page = ask(asked, None)
        meta = page.get("meta") or {}
        cursor = cursor.after_page(meta)
        yield Page(page_items(page), cursor, cost=page_cost(page))
        next_token = meta.get("next_token")
        if not next_token:
            return


def search_page(client, query: str, cursor: Cursor, next_token: str | None, settings: Settings) -> dict:
    return client.search_recent_tweets(
        query, since_id=cursor.since_id, until_id=cursor.until_id, next_token=next_token,
        max_results=settings.max_results, expansions=settings.expansions or None, tweet_fields=TWEET_FIELDS,
        user_fields=USER_FIELDS if settings.include_authors else None,
    )


def translate_error(exc: Exception, settings: Settings) -> Exception:
    import requests
    import tweepy

    if isinstance(exc, tweepy.TooManyRequests):
        reset = getattr(exc, "reset_time", None) or _header_int(exc, "x-rate-limit-reset")
        resume = datetime.fromtimestamp(reset, timezone.utc) if reset else None
        return RateLimited(f"X rate limit reached; collection resumes after {iso(resume) if resume else 'the window resets'}",
                           resume)
    if isinstance(exc, tweepy.Unauthorized):
        return SourceRefused(f"X refused the bearer token (401 Unauthorized): check the token in "
                             f"{settings.bearer_token_env} (sources {settings.name!r})")
    if isinstance(exc, tweepy.Forbidden):
        return SourceRefused(f"X refused recent search (403 Forbidden): the app's API tier likely has no search "
                             f"access (the Free tier has none; Basic or higher does); token from "
                             f"{settings.bearer_token_env} (sources {settings.name!r})")
    if isinstance(exc, tweepy.BadRequest):
        messages = "; ".join(exc.api_messages) or str(exc)
        if "since_id" in messages:
            return StaleSinceId(f"X refused the stored since_id (400): {messages}")
        return SourceRefused(f"X rejected the request (400): {messages}")
    if isinstance(exc, tweepy.HTTPException) and getattr(exc.response, "status_code", None) == 402:
        return BudgetSpent(
            "X answered 402 Payment Required: the account's credits are spent; X is paused for a day",
            pause=CREDITS_PAUSE, notice=("credits", {
                "title": "X credits spent: collection from X is paused",
                "body": f"X refused to serve source {settings.name!r} (402 Payment Required): the developer account's "
                        "pay-per-use credits are spent. Add credits in the X developer portal; Ascolto asks X "
                        "again in 24 hours."}))
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


# ---- replying -----------------------------------------------------------------------------------

def reply_client(settings: Settings):
    """A client acting as the brand's account (OAuth 1.0a user context): the app's bearer token reads
    but cannot post."""
    import tweepy

    if not settings.reply_as:
        raise AscoltoError(f"sources {settings.name!r}: reply_as is not set (the brand's @handle that replies on X)")
    needed_for = f"replies on X as @{settings.reply_as} (keys of an app with Read and write access)"
    return tweepy.Client(consumer_key=read_secret(settings.consumer_key_env, needed_for),
                         consumer_secret=read_secret(settings.consumer_secret_env, needed_for),
                         access_token=read_secret(settings.access_token_env, needed_for),
                         access_token_secret=read_secret(settings.access_token_secret_env, needed_for),
                         return_type=dict, wait_on_rate_limit=False)


def send_reply(client, settings: Settings, reply_to: ReplyTo, text: str, key: str) -> str:
    """A reply to the post's latest version. X takes it only if the post mentions the account that
    replies (its 2026 rule): checked first, so that the person posts it by hand instead. Not retried:
    a reply whose answer was lost may have been posted."""
    import tweepy

    tweet = reply_to.raw.get("tweet") or {}
    said = (tweet.get("note_tweet") or {}).get("text") or tweet.get("text") or ""
    if f"@{settings.reply_as}".casefold() not in said.casefold():
        raise ReplyRefused(f"X takes replies from apps only to posts that mention @{settings.reply_as}; this one "
                           "does not: post the reply from the X app")
    try:
        answer = client.create_tweet(text=text, in_reply_to_tweet_id=str(tweet.get("id") or reply_to.native_id))
    except tweepy.TooManyRequests as exc:
        reset = exc.response.headers.get("x-rate-limit-reset") if exc.response is not None else None
        when = iso(datetime.fromtimestamp(int(reset), timezone.utc)) if str(reset or "").isdigit() else "a while"
        raise ReplyRefused(f"X rate limit reached; try again after {when}") from None
    except (tweepy.Forbidden, tweepy.Unauthorized) as exc:
        detail = "; ".join(exc.api_messages) or str(exc)
        raise ReplyRefused(f"X refused the reply ({detail}); the keys must belong to @{settings.reply_as} and be "
                           "regenerated after giving the app Read and write access") from None
    except tweepy.TweepyException as exc:
        raise ReplyRefused(f"X did not take the reply ({type(exc).__name__}); it may have been posted: check "
                           f"{reply_to.url or 'the post'} before sending again") from None
    return str(answer["data"]["id"])
