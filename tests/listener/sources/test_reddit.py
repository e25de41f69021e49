"""The Reddit collector: praw for real against recorded HTTP responses shaped like Reddit's API."""

import pytest

from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.reddit import Cursor as RedditCursor
from listener.store.mentions import get_cursor

TOKEN = "https://www.reddit.com/api/v1/access_token"
SEARCH = "https://oauth.reddit.com/r/coffee+italy/search/"
COMMENTS = "https://oauth.reddit.com/r/coffee+italy/comments/"
LIMITS = {"x-ratelimit-used": "1", "x-ratelimit-remaining": "995.0", "x-ratelimit-reset": "420"}
REDDIT_SOURCE = ('[[sources]]\ntype = "reddit"\nname = "reddit"\nsubreddits = ["coffee", "r/italy"]\n'
                 'user_agent = "ascolto-tests/1.0"\nlimit = 50\n')


@pytest.fixture
def app(make_app, monkeypatch, no_sleep):
    monkeypatch.setenv("REDDIT_CLIENT_ID", "fixture-client-id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "fixture-client-secret")
    return make_app(sources=REDDIT_SOURCE, mailer=None)


def record_run(http, search="search_caffe_aurora.json", token=True):
    if token:
        http.post(TOKEN, json=fixture_json("reddit", "access_token.json"))
    http.get(SEARCH, json=fixture_json("reddit", search), headers=LIMITS)
    http.get(COMMENTS, json=fixture_json("reddit", "comments.json"), headers=LIMITS)


def run_aurora(app):
    return run_source(app, app.config.source("reddit"), brand="Caffè Aurora")


def query_params(call):
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_submissions_and_comments_land_in_sqlite_with_alerts(app, recorded_http):
    record_run(recorded_http)
    result = run_aurora(app)
    token, search, comments = recorded_http.calls
    assert "grant_type=client_credentials" in token.request.body
    assert token.request.headers["User-Agent"].startswith("ascolto-tests/1.0")
    params = query_params(search)
    assert params["q"] == '"Caffè Aurora" OR "CaffeAurora"' and params["sort"] == "new"
    assert params["restrict_sr"] in ("True", "on", "1", "true")
    assert search.request.headers["Authorization"] == "bearer -fixture-access-token-not-a-secret"
    c = result.counts
    # search: 2 about the brand, 1 deleted, 1 about another "Aurora"; comments: 1 about the brand, 1 removed, 1 other
    assert (c.fetched, c.new, c.skipped, c.errors) == (7, 3, 4, 0)
    assert {r["id"] for r in app.db["mentions"].rows} == {"reddit:t3_1gk3x01", "reddit:t3_1gk3x00", "reddit:t1_m8x0003"}
    post = app.db["mentions"].get("reddit:t3_1gk3x01")
    assert (post["author"], post["url"], post["created_at"], post["brand"]) == (
        "beanhunter", "https://www.reddit.com/r/coffee/comments/1gk3x01/slug/", "2026-11-22T06:46:40Z", "Caffè Aurora")
    assert post["text"].startswith("Caffè Aurora charged me twice\n\nCaffè Aurora support closed my ticket")
    assert {a["mention_id"] for a in app.db["alerts"].rows} == {"reddit:t3_1gk3x01", "reddit:t1_m8x0003"}


def test_cursor_lets_the_next_run_save_only_what_is_new(app, recorded_http):
    record_run(recorded_http)
    record_run(recorded_http, search="search_caffe_aurora_newer.json", token=False)
    run_aurora(app)
    assert RedditCursor.load(get_cursor(app.db, "reddit:reddit", "search:Caffè Aurora")) == RedditCursor(1795330000.0)
    second = run_aurora(app)
    # read back 6 hours before the newest (search indexes late): the stored ones are recognised
    assert (second.counts.fetched, second.counts.new) == (7, 1)
    assert app.db["mentions"].get("reddit:t3_1gk3x02")["nps_class"] == "promoter"
    assert app.db["mentions"].count == 4


def test_rate_limit_ends_the_run_and_keeps_the_cursor(app, recorded_http):
    recorded_http.post(TOKEN, json=fixture_json("reddit", "access_token.json"))
    recorded_http.get(SEARCH, status=429, json={"message": "Too Many Requests", "error": 429},
                      headers={"x-ratelimit-used": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"})
    result = run_aurora(app)
    assert result.status == "rate_limited" and "Reddit rate limit" in result.message
    assert get_cursor(app.db, "reddit:reddit", "search:Caffè Aurora") is None


def test_bad_credentials_name_the_variables(app, recorded_http):
    recorded_http.post(TOKEN, status=401, json={"message": "Unauthorized", "error": 401})
    result = run_aurora(app)
    assert result.status == "error"
    assert result.message.startswith("Reddit refused the app credentials (401): check REDDIT_CLIENT_ID and "
                                     "REDDIT_CLIENT_SECRET")


def test_missing_secret_is_one_line_naming_it(app, monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_SECRET")
    result = run_aurora(app)
    assert result.status == "skipped" and "REDDIT_CLIENT_SECRET is not set" in result.message


def test_a_post_indexed_late_is_still_found(app, recorded_http):
    """Reddit search indexes posts minutes to hours late: a post older than the last run's newest,
    indexed since, is found in the overlap and saved; nothing is saved twice."""
    late = fixture_json("reddit", "search_caffe_aurora.json")
    late["data"]["children"].insert(1, {"kind": "t3", "data": {
        **late["data"]["children"][0]["data"], "name": "t3_1gk3w99", "id": "1gk3w99", "created_utc": 1795329000.0,
        "title": "Caffè Aurora, ordine mai arrivato", "selftext": "Indexed an hour late.",
        "permalink": "/r/coffee/comments/1gk3w99/late/"}})
    record_run(recorded_http)
    recorded_http.get(SEARCH, json=late, headers=LIMITS)
    recorded_http.get(COMMENTS, json=fixture_json("reddit", "comments.json"), headers=LIMITS)
    run_aurora(app)
    second = run_aurora(app)
    assert second.counts.new == 1 and app.db["mentions"].get("reddit:t3_1gk3w99") is not None
    assert app.db["mentions"].count == 4


def test_removed_posts_are_skipped_and_deleted_authors_words_kept(app, recorded_http):
    search = fixture_json("reddit", "search_caffe_aurora.json")
    post = search["data"]["children"][0]["data"]
    search["data"]["children"][0]["data"] = {**post, "selftext": "[removed]"}  # removed by moderators, author kept
    comments = fixture_json("reddit", "comments.json")
    kept = comments["data"]["children"][0]["data"]
    comments["data"]["children"][0]["data"] = {**kept, "author": "[deleted]"}  # the account is gone, the words stay
    comments["data"]["children"][2]["data"] = {**comments["data"]["children"][2]["data"], "permalink": None,
                                               "body": "Caffè Aurora, la moka perde"}
    recorded_http.post(TOKEN, json=fixture_json("reddit", "access_token.json"))
    recorded_http.get(SEARCH, json=search, headers=LIMITS)
    recorded_http.get(COMMENTS, json=comments, headers=LIMITS)
    run_aurora(app)
    ids = {r["id"] for r in app.db["mentions"].rows}
    assert "reddit:t3_1gk3x01" not in ids  # its title alone is not the post
    orphan = app.db["mentions"].get("reddit:t1_m8x0003")
    assert orphan["author"] is None and orphan["text"].startswith("Caffè Aurora? Pessimo")
    built = app.db["mentions"].get("reddit:t1_m8x0001")["url"]
    assert built == "https://www.reddit.com/comments/1gk2b3c/_/m8x0001/"


COMMENT = "https://oauth.reddit.com/api/comment/"
POSTED = {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": {
    "id": "m9z0001", "name": "t1_m9z0001", "parent_id": "t3_1gk3x01", "link_id": "t3_1gk3x01",
    "body": "Ci dispiace!", "author": "caffeaurora_support", "permalink": "/r/coffee/comments/1gk3x01/slug/m9z0001/",
    "created_utc": 1795400000.0, "subreddit": "coffee"}}]}}}


@pytest.fixture
def reply_to(app, recorded_http, monkeypatch):
    """A collected submission as the reply page hands it over, and the brand account's login."""
    from listener.replies.sending import raw_item
    from listener.sources.base import ReplyTo

    monkeypatch.setenv("REDDIT_USERNAME", "caffeaurora_support")
    monkeypatch.setenv("REDDIT_PASSWORD", "fixture-password")
    record_run(recorded_http)
    run_aurora(app)
    row = app.db["mentions"].get("reddit:t3_1gk3x01")
    return ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])


def test_a_reply_is_a_comment_under_the_post_as_the_brand_account(app, recorded_http, reply_to):
    from urllib.parse import parse_qs

    from listener.sources import reddit

    recorded_http.post(TOKEN, json=fixture_json("reddit", "access_token.json"))  # the password grant
    recorded_http.post(COMMENT, json=POSTED)
    settings = app.config.source("reddit")
    assert reddit.send_reply(reddit.reply_client(settings), settings, reply_to, "Ci dispiace!", "k") == "t1_m9z0001"
    login = [c for c in recorded_http.calls if c.request.url == TOKEN][-1]
    assert parse_qs(login.request.body)["grant_type"] == ["password"]
    assert parse_qs(login.request.body)["username"] == ["caffeaurora_support"]
    posted = next(c for c in recorded_http.calls if c.request.url.startswith(COMMENT))
    assert parse_qs(posted.request.body)["thing_id"] == ["t3_1gk3x01"]
    assert parse_qs(posted.request.body)["text"] == ["Ci dispiace!"]
    assert posted.request.headers["Authorization"].lower().startswith("bearer ")


def test_reddits_refusals_and_a_missing_login_are_named(app, recorded_http, reply_to, monkeypatch):
    from listener.kernel.errors import MissingCredential
    from listener.sources import reddit
    from listener.sources.base import ReplyRefused

    recorded_http.post(TOKEN, json=fixture_json("reddit", "access_token.json"))
    recorded_http.post(COMMENT, json={"json": {"errors": [
        ["RATELIMIT", "Looks like you've been doing that a lot. Take a break for 9 minutes before trying again.",
         "ratelimit"]]}})
    settings = app.config.source("reddit")
    with pytest.raises(ReplyRefused, match="Reddit refused the reply: RATELIMIT: Looks like"):
        reddit.send_reply(reddit.reply_client(settings), settings, reply_to, "Ci dispiace!", "k")
    monkeypatch.delenv("REDDIT_PASSWORD")
    with pytest.raises(MissingCredential, match="REDDIT_PASSWORD is not set"):
        reddit.reply_client(settings)
