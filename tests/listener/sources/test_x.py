"""The X collector: tweepy for real against recorded HTTP responses shaped like API v2."""

import json

import pytest

from helpers.apps import write_config
from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.x import Cursor as XCursor
from listener.sources.x import build_query
from listener.store.mentions import get_cursor

SEARCH = "https://api.twitter.com/2/tweets/search/recent"
X_SOURCE = '[[sources]]\ntype = "x"\nname = "x"\nmax_results = 10\n'


@pytest.fixture
def app(make_app, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    sleeps = []
    application = make_app(sources=X_SOURCE, mailer=None, sleep=sleeps.append)
    application.sleeps = sleeps
    return application


def run_aurora(app):
    return run_source(app, app.config.source("x"), brand="Caffè Aurora")


def cursor(app):
    query = build_query(app.config.brand("Caffè Aurora"))
    return XCursor.load(get_cursor(app.db, "x:x", query))


def params(call):
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_query_is_built_from_keywords_exclusions_and_languages(app):
    brand = app.config.brand("Caffè Aurora")
    assert build_query(brand) == '("Caffè Aurora" OR @CaffeAurora) -"aurora boreale" -is:retweet (lang:it OR lang:en)'
    assert build_query(brand, ["it"], include_retweets=True) == '("Caffè Aurora" OR @CaffeAurora) -"aurora boreale" lang:it'


def test_pages_are_followed_saved_and_the_cursor_advances(app, recorded_http, caplog):
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    result = run_aurora(app)
    first, second = (params(c) for c in recorded_http.calls)
    assert first["query"].startswith('("Caffè Aurora" OR @CaffeAurora)') and "since_id" not in first
    assert first["expansions"] == "author_id" and first["max_results"] == "10"
    assert second["next_token"] == "b26v89c19zqg8o3fpzbkk9y7kvx9xxr8x9ubnqm6rgaih"
    assert "until_id" not in second and second["query"] == first["query"]  # the token's own request
    assert recorded_http.calls[0].request.headers["Authorization"] == "Bearer fixture-bearer-token"
    c = result.counts
    assert (result.status, c.fetched, c.new, c.skipped, c.errors, c.detractors) == ("partial", 5, 3, 1, 1, 2)
    assert "x: skipped: tweet 1862300000000000100: malformed" in caplog.text
    row = app.db["mentions"].get("x:1862300000000000104")
    assert (row["author"], row["url"], row["created_at"], row["lang"]) == (
        "giulia_rm", "https://x.com/giulia_rm/status/1862300000000000104", "2026-11-22T18:04:11Z", "it")
    assert cursor(app) == XCursor(since_id="1862300000000000104")
    assert {a["mention_id"] for a in app.db["alerts"].rows} == {"x:1862300000000000104", "x:1862300000000000101"}


def test_next_run_resumes_from_since_id(app, recorded_http):
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_newer.json"))
    run_aurora(app)
    result = run_aurora(app)
    assert params(recorded_http.calls[2])["since_id"] == "1862300000000000104"
    assert result.counts.new == 1 and cursor(app) == XCursor(since_id="1862300000000000105")


def test_a_crash_between_fetch_and_commit_neither_skips_nor_duplicates(app, recorded_http):
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    original, calls = app.scorer.score, []

    def crash_on_second_page(texts):
        calls.append(texts)
        if len(calls) == 2:
            raise MemoryError("the process dies here, before page 2 is committed")
        return original(texts)

    app.scorer.score = crash_on_second_page
    with pytest.raises(MemoryError):
        run_aurora(app)
    assert app.db["mentions"].count == 2  # page 1 only
    assert cursor(app) == XCursor(since_id=None, newest_id="1862300000000000104", until_id="1862300000000000102")

    app.scorer.score = original
    result = run_aurora(app)
    resumed = params(recorded_http.calls[2])
    assert resumed["until_id"] == "1862300000000000102" and "since_id" not in resumed
    assert result.counts.new == 1 and app.db["mentions"].count == 3
    assert cursor(app) == XCursor(since_id="1862300000000000104")
    assert [r["status"] for r in app.db["runs"].rows] == ["error", "partial"]


def test_rate_limit_keeps_the_cursor_and_waits_for_the_reset(app, recorded_http, clock):
    reset = int(clock().timestamp()) + 900
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))
    recorded_http.get(SEARCH, status=429, json=fixture_json("x", "error_429.json"),
                      headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
                               "x-rate-limit-reset": str(reset)})
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    limited = run_aurora(app)
    assert limited.status == "rate_limited" and "resumes after 2026-11-23T09:15:00Z" in limited.message
    assert cursor(app).until_id == "1862300000000000102"  # page 1 kept, resume point kept

    clock.advance(minutes=5)
    waiting = run_aurora(app)
    assert waiting.status == "rate_limited" and len(recorded_http.calls) == 2  # no request before the reset

    clock.advance(minutes=11)
    done = run_aurora(app)
    assert done.counts.new == 1 and cursor(app) == XCursor(since_id="1862300000000000104")


def test_server_errors_are_retried_with_backoff(app, recorded_http):
    recorded_http.get(SEARCH, status=503, json=fixture_json("x", "error_503.json"))
    recorded_http.get(SEARCH, status=503, json=fixture_json("x", "error_503.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_newer.json"))
    result = run_aurora(app)
    assert result.status == "ok" and result.counts.new == 1
    assert app.sleeps == [2.0, 4.0]


def test_persistent_server_errors_end_the_run_with_a_recorded_error(app, recorded_http):
    for _ in range(3):
        recorded_http.get(SEARCH, status=503, json=fixture_json("x", "error_503.json"))
    result = run_aurora(app)
    assert result.status == "error" and result.message.startswith("X is unavailable after retries: TwitterServerError")
    run = list(app.db["runs"].rows)[-1]
    assert (run["job"], run["status"]) == ("x:x", "error") and "503" in run["message"]
    assert get_cursor(app.db, "x:x", build_query(app.config.brand("Caffè Aurora"))) is None


@pytest.mark.parametrize("status,fixture,expected", [
    (403, "error_403.json", "X refused recent search (403 Forbidden): the app's API tier likely has no search access"),
    (401, "error_401.json", "X refused the bearer token (401 Unauthorized): check the token in X_BEARER_TOKEN"),
])
def test_refusals_explain_the_likely_cause_and_name_the_setting(app, recorded_http, status, fixture, expected):
    recorded_http.get(SEARCH, status=status, json=fixture_json("x", fixture))
    result = run_aurora(app)
    assert result.status == "error" and result.message.startswith(expected)
    assert "\n" not in result.message


def test_monthly_budget_stops_collection_and_alerts_once(make_app, monkeypatch, recorded_http):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    source = X_SOURCE + "monthly_read_budget = 6\n"
    app = make_app(sources=source, mailer=None)
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))  # 3 posts and 3 users: the budget
    first = run_aurora(app)
    assert first.status == "budget_spent" and "6 of 6 posts and user objects in 2026-11" in first.message
    assert len(recorded_http.calls) == 1
    assert run_aurora(app).status == "budget_spent"
    notices = [a for a in app.db["alerts"].rows if a["kind"] == "notice"]
    assert len(notices) == 1 and notices[0]["subject"] == "x:x:budget:2026-11"


def test_missing_token_names_the_variable_and_other_sources_keep_working(tmp_path, make_app, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    export = tmp_path / "e.jsonl"
    export.write_text('{"id": "1", "source": "x", "author": "a", "text": "Caffè Aurora ok", '
                      '"created_at": "2026-11-20T10:00:00Z"}\n', encoding="utf-8")
    sources = X_SOURCE + '[[sources]]\ntype = "import"\nname = "file"\npath = "e.jsonl"\n'
    app = make_app(sources=sources, mailer=None)
    x_run = run_source(app, app.config.source("x"))
    assert x_run.status == "skipped"
    assert x_run.message == "environment variable X_BEARER_TOKEN is not set (needed for the X bearer token of source 'x')"
    assert run_source(app, app.config.source("file")).counts.new == 1


def test_collect_command_prints_one_line_for_a_refusal(tmp_path, monkeypatch, recorded_http, ascolto):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    config = write_config(tmp_path, smtp='host = ""', sources=X_SOURCE)
    recorded_http.get(SEARCH, status=403, json=fixture_json("x", "error_403.json"))
    result = ascolto(["collect", "x", "--once", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: X refused recent search (403 Forbidden)")


# ---- defects found by replaying recorded X traffic -----------------------------------------------

def test_escaped_text_long_posts_edits_and_non_languages(app, recorded_http):
    recorded_http.get(SEARCH, json=fixture_json("x", "search_edge_cases.json"))
    result = run_aurora(app)
    assert (result.counts.fetched, result.counts.new) == (4, 3)  # an edited post and its original: one mention
    edited = app.db["mentions"].get("x:1862400000000000201")
    assert edited["text"].startswith("Caffè Aurora: R&D dice che il pacco <arriva> domani")  # unescaped, latest
    assert edited["revision"] == 1862400000000000210 and edited["url"].endswith("/status/1862400000000000210")
    long_post = app.db["mentions"].get("x:1862400000000000205")
    assert long_post["text"].endswith("Still no refund today.") and len(long_post["text"]) > 280
    assert app.db["mentions"].get("x:1862400000000000203")["lang"] is None  # qst: too short to have a language
    assert app.db.execute("select count(*) from alerts where mention_id = 'x:1862400000000000201'").fetchone()[0] == 1


def test_an_edit_seen_in_a_later_run_updates_the_one_mention(app, recorded_http):
    first, later = fixture_json("x", "search_edge_cases.json"), fixture_json("x", "search_edge_cases.json")
    first["data"] = first["data"][3:]  # only the original so far
    later["data"] = later["data"][:1]  # the edit
    recorded_http.get(SEARCH, json=first)
    recorded_http.get(SEARCH, json=later)
    run_aurora(app)
    assert app.db["mentions"].get("x:1862400000000000201")["text"] == "Caffè Aurora: il pacco arriva domani dicono"
    again = run_aurora(app)
    assert again.counts.new == 0 and app.db["mentions"].count == 1
    assert "pessimo" in app.db["mentions"].get("x:1862400000000000201")["text"]
    alerts = app.db.execute("select count(*) from alerts where mention_id = 'x:1862400000000000201'").fetchone()[0]
    assert alerts == 1  # the edit made it a complaint: one alert


def test_an_exclusion_with_an_ampersand_matches_the_unescaped_text(make_app, monkeypatch, recorded_http):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    app = make_app(sources=X_SOURCE, mailer=None)
    text = app.config.path.read_text(encoding="utf-8").replace('exclude = ["aurora boreale"]',
                                                               'exclude = ["aurora boreale", "R&D"]')
    app.config.path.write_text(text, encoding="utf-8")
    app = make_app(config=app.config.path, mailer=None)
    recorded_http.get(SEARCH, json=fixture_json("x", "search_edge_cases.json"))
    result = run_aurora(app)
    # the edit says "R&amp;D" on the wire: unescaped, it matches the exclusion; the original is kept
    assert result.counts.skipped == 1
    assert app.db["mentions"].get("x:1862400000000000201")["text"] == "Caffè Aurora: il pacco arriva domani dicono"


def test_retweets_are_stored_as_their_original_once(make_app, monkeypatch, recorded_http):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    app = make_app(sources=X_SOURCE + "include_retweets = true\n", mailer=None)
    recorded_http.get(SEARCH, json=fixture_json("x", "search_retweets.json"))
    result = run_aurora(app)
    asked = params(recorded_http.calls[0])
    assert "referenced_tweets.id" in asked["expansions"] and "-is:retweet" not in asked["query"]
    assert result.counts.new == 1 and app.db["alerts"].count == 1
    original = app.db["mentions"].get("x:1862500000000000300")
    assert original["author"] == "marta_m" and original["text"].endswith("da una settimana. Pessimo")


def test_a_since_id_older_than_7_days_starts_a_new_pass_instead_of_failing_forever(app, recorded_http):
    with app.db.atomic():
        from listener.store.mentions import set_cursor

        set_cursor(app.db, "x:x", build_query(app.config.brand("Caffè Aurora")),
                   XCursor(since_id="1850000000000000000").dump(), "2026-11-10T09:00:00Z")
    recorded_http.get(SEARCH, status=400, json=fixture_json("x", "error_400_since_id.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_newer.json"))
    result = run_aurora(app)
    stale, fresh = (params(c) for c in recorded_http.calls)
    assert stale["since_id"] == "1850000000000000000" and "since_id" not in fresh
    assert result.status == "ok" and result.counts.new == 1
    assert cursor(app) == XCursor(since_id="1862300000000000105")


def test_spent_credits_pause_x_for_a_day_with_one_notice_and_one_error_line(make_app, monkeypatch, recorded_http,
                                                                            clock, ascolto):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    app = make_app(sources=X_SOURCE, mailer=None)
    recorded_http.get(SEARCH, status=402, json=fixture_json("x", "error_402.json"))
    result = ascolto(["collect", "x", "--once", "--config", str(app.config.path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == \
        "Error: X answered 402 Payment Required: the account's credits are spent; X is paused for a day"
    clock.advance(hours=3)
    assert run_aurora(app).status == "rate_limited" and len(recorded_http.calls) == 1  # paused: no request
    notices = [a["subject"] for a in app.db["alerts"].rows if a["kind"] == "notice"]
    assert notices == ["x:x:credits"]


def test_without_authors_no_user_objects_are_read(make_app, monkeypatch, recorded_http):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    app = make_app(sources=X_SOURCE + "include_authors = false\n", mailer=None)
    page = fixture_json("x", "search_newer.json")
    page.pop("includes", None)
    recorded_http.get(SEARCH, json=page)
    run_aurora(app)
    asked = params(recorded_http.calls[0])
    assert "expansions" not in asked and "user.fields" not in asked


TWEETS = "https://api.twitter.com/2/tweets"
REPLY_KEYS = {"X_CONSUMER_KEY": "fixture-consumer-key", "X_CONSUMER_SECRET": "fixture-consumer-secret",
              "X_ACCESS_TOKEN": "fixture-access-token", "X_ACCESS_TOKEN_SECRET": "fixture-access-secret"}


def collected(app, recorded_http, native_id):
    from listener.replies.sending import raw_item
    from listener.sources.base import ReplyTo

    recorded_http.get(SEARCH, json=fixture_json("x", "search_page1.json"))
    recorded_http.get(SEARCH, json=fixture_json("x", "search_page2.json"))
    run_aurora(app)
    row = app.db["mentions"].get(f"x:{native_id}")
    return ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])


def test_a_reply_as_the_brand_goes_to_a_post_that_mentions_it_and_not_to_others(make_app, monkeypatch,
                                                                                  recorded_http):
    from listener.sources import x
    from listener.sources.base import ReplyRefused

    for name, value in {"X_BEARER_TOKEN": "fixture-bearer-token", **REPLY_KEYS}.items():
        monkeypatch.setenv(name, value)
    app = make_app(sources=X_SOURCE + 'reply_as = "@CaffeAurora"\n', mailer=None, sleep=lambda s: None)
    mentioning = collected(app, recorded_http, "1862300000000000103")
    recorded_http.post(TWEETS, status=201, json={"data": {"id": "1862300000000000999", "text": "Grazie!",
                                                          "edit_history_tweet_ids": ["1862300000000000999"]}})
    settings = app.config.source("x")
    client = x.reply_client(settings)
    assert x.send_reply(client, settings, mentioning, "Grazie!", "k") == "1862300000000000999"
    posted = next(c for c in recorded_http.calls if c.request.method == "POST")
    assert json.loads(posted.request.body) == {"text": "Grazie!",
                                               "reply": {"in_reply_to_tweet_id": "1862300000000000103"}}
    assert posted.request.headers["Authorization"].startswith("OAuth ")
    assert 'oauth_consumer_key="fixture-consumer-key"' in posted.request.headers["Authorization"]
    other = app.db["mentions"].get("x:1862300000000000104")
    from listener.replies.sending import raw_item
    from listener.sources.base import ReplyTo

    with pytest.raises(ReplyRefused, match="only to posts that mention @CaffeAurora"):
        x.send_reply(client, settings, ReplyTo(other["native_id"], raw_item(other["raw"])), "Ci dispiace", "k2")


def test_x_refusals_and_missing_keys_are_named(make_app, monkeypatch, recorded_http):
    from listener.kernel.errors import MissingCredential
    from listener.sources import x
    from listener.sources.base import ReplyRefused

    for name, value in {"X_BEARER_TOKEN": "fixture-bearer-token", **REPLY_KEYS}.items():
        monkeypatch.setenv(name, value)
    app = make_app(sources=X_SOURCE + 'reply_as = "CaffeAurora"\n', mailer=None, sleep=lambda s: None)
    mentioning = collected(app, recorded_http, "1862300000000000103")
    recorded_http.post(TWEETS, status=403, json={
        "title": "Forbidden", "status": 403, "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint."})
    recorded_http.post(TWEETS, status=429, json=fixture_json("x", "error_429.json"),
                       headers={"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                                "x-rate-limit-reset": "1795400000"})
    settings = app.config.source("x")
    client = x.reply_client(settings)
    with pytest.raises(ReplyRefused, match="not configured with the appropriate oauth1 app permissions.*Read and write"):
        x.send_reply(client, settings, mentioning, "Grazie!", "k")
    with pytest.raises(ReplyRefused, match="X rate limit reached; try again after 2026-11-23T02:13:20Z"):
        x.send_reply(client, settings, mentioning, "Grazie!", "k")
    monkeypatch.delenv("X_ACCESS_TOKEN_SECRET")
    with pytest.raises(MissingCredential, match="X_ACCESS_TOKEN_SECRET is not set"):
        x.reply_client(settings)
