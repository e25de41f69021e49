"""Mastodon through Mastodon.py, for real, against recorded HTTP: a hashtag timeline paged by its Link
headers, search, boosts skipped, a post seen twice stored once, the cursor, a rate limit, a refused
token and a missing one."""

import pytest

from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.mastodon import Cursor
from listener.store.mentions import get_cursor

INSTANCE = "https://mastodon.example"
TAG = f"{INSTANCE}/api/v1/timelines/tag/caffeaurora"
SEARCH = f"{INSTANCE}/api/v2/search"
SOURCE = (f'[[sources]]\ntype = "mastodon"\nname = "mastodon"\ninstance = "{INSTANCE}"\nhashtags = ["#caffeaurora"]\n'
          'brand = "Caffè Aurora"\nlimit = 2\n')
NEXT = {"Link": f'<{TAG}?max_id=113000000000000004>; rel="next", <{TAG}?min_id=113000000000000005>; rel="prev"'}


@pytest.fixture
def app(make_app, monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "fixture-mastodon-token")
    return make_app(sources=SOURCE, mailer=None, sleep=lambda s: None)


INSTANCE_INFO = {"domain": "mastodon.example", "title": "Mastodon Example", "version": "4.3.2",
                 "source_url": "https://github.com/mastodon/mastodon", "description": "An instance",
                 "usage": {"users": {"active_month": 1000}}, "languages": ["it", "en"],
                 "configuration": {"statuses": {"max_characters": 500}}, "registrations": {"enabled": False}}


def calls(http, path: str) -> list[str]:
    return [c.request.url for c in http.calls if path in c.request.url]


def record(http):
    http.get(f"{INSTANCE}/api/v2/instance/", json=INSTANCE_INFO)  # Mastodon.py asks the instance what it runs
    http.get(TAG, json=fixture_json("mastodon", "tag_page1.json"), headers=NEXT)
    http.get(TAG, json=fixture_json("mastodon", "tag_page2.json"))
    for _ in range(2):  # one search per keyword of Caffè Aurora (the other brand has one keyword: below)
        http.get(SEARCH, json=fixture_json("mastodon", "search.json"))
    http.get(SEARCH, json={"accounts": [], "statuses": [], "hashtags": []})


def test_hashtag_pages_and_search_land_once_each(app, recorded_http, caplog):
    record(recorded_http)
    result = run_source(app, app.config.source("mastodon"))
    tag1, tag2 = calls(recorded_http, "/timelines/tag/")
    first = next(c.request for c in recorded_http.calls if "/timelines/tag/" in c.request.url)
    assert first.headers["Authorization"] == "Bearer fixture-mastodon-token" and "limit=2" in tag1
    assert "max_id=113000000000000004" in tag2
    search = calls(recorded_http, "/search")[0]
    assert "q=Caff%C3%A8+Aurora" in search and "type=statuses" in search
    assert (result.counts.new, result.counts.errors) == (3, 1)  # a boost skipped, a malformed post, a repeat
    giulia = app.db["mentions"].get("mastodon:https://mastodon.example/users/giulia/statuses/113000000000000005")
    assert giulia["text"] == "Ordine da #CaffeAurora arrivato con la moka rotta.\nNessuno risponde alle email."
    assert (giulia["author"], giulia["url"], giulia["lang"]) == ("giulia", "https://mastodon.example/@giulia/113000000000000005", "it")
    tom = app.db["mentions"].get("mastodon:https://fosstodon.example/users/tom/statuses/113000000000000003")
    assert tom["author"] == "tom@fosstodon.example" and tom["lang"] == "en"
    assert Cursor.load(get_cursor(app.db, "mastodon:mastodon", "tag:caffeaurora")) == Cursor("113000000000000005")
    assert "mastodon: skipped: mastodon status 113000000000000002: no uri, text or time" in caplog.text


def test_the_next_run_asks_since_the_cursor(app, recorded_http):
    record(recorded_http)
    recorded_http.get(TAG, json=[])
    for _ in range(3):
        recorded_http.get(SEARCH, json={"accounts": [], "statuses": [], "hashtags": []})
    run_source(app, app.config.source("mastodon"))
    again = run_source(app, app.config.source("mastodon"))
    assert again.counts.new == 0 and "since_id=113000000000000005" in calls(recorded_http, "/timelines/tag/")[2]
    assert "min_id=113000000000000006" in calls(recorded_http, "/search")[3]


def test_rate_limit_refused_and_missing_tokens(app, recorded_http, make_app, monkeypatch):
    recorded_http.get(f"{INSTANCE}/api/v2/instance/", json=INSTANCE_INFO)
    recorded_http.get(TAG, status=429, json={"error": "Too many requests"},
                      headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-11-23T09:05:00.000Z"})
    assert run_source(app, app.config.source("mastodon")).status == "rate_limited"
    recorded_http.get(TAG, status=401, json={"error": "The access token is invalid"})
    refused = run_source(app, app.config.source("mastodon"))
    assert refused.status == "error" and "check MASTODON_ACCESS_TOKEN" in refused.message
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN")
    missing = run_source(make_app(sources=SOURCE, mailer=None), app.config.source("mastodon"))
    assert missing.status == "skipped" and "MASTODON_ACCESS_TOKEN is not set" in missing.message


def stored_reply_to(app, recorded_http):
    """The first post of the tag page, collected as a mention, as the reply page hands it over."""
    from listener.replies.sending import raw_item
    from listener.sources.base import ReplyTo

    record(recorded_http)
    run_source(app, app.config.source("mastodon"))
    row = app.db["mentions"].get("mastodon:https://mastodon.example/users/giulia/statuses/113000000000000005")
    return ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])


def test_a_reply_is_posted_under_the_post_naming_its_author_once(app, recorded_http):
    from urllib.parse import parse_qs

    from listener.sources import mastodon

    reply_to = stored_reply_to(app, recorded_http)
    posted = {**fixture_json("mastodon", "tag_page1.json")[0], "id": "113000000000000900",
              "in_reply_to_id": "113000000000000005"}
    recorded_http.post(f"{INSTANCE}/api/v1/statuses", json=posted)
    settings = app.config.source("mastodon")
    assert mastodon.send_reply(mastodon.reply_client(settings), settings, reply_to, "Ci dispiace!", "key-1") == \
        "113000000000000900"
    call = next(c for c in recorded_http.calls if c.request.url.endswith("/api/v1/statuses"))
    body = parse_qs(call.request.body)
    assert body["status"] == ["@giulia Ci dispiace!"] and body["in_reply_to_id"] == ["113000000000000005"]
    assert call.request.headers["Idempotency-Key"] == "key-1"
    assert call.request.headers["Authorization"] == "Bearer fixture-mastodon-token"


@pytest.mark.parametrize("status,answer,said", [
    (403, {"error": "This action is outside the authorized scopes"}, "have the write:statuses scope"),
    (429, {"error": "Too many requests"}, "rate limit reached"),
])
def test_a_refused_reply_says_why(app, recorded_http, status, answer, said):
    from listener.sources import mastodon
    from listener.sources.base import ReplyRefused

    reply_to = stored_reply_to(app, recorded_http)
    recorded_http.post(f"{INSTANCE}/api/v1/statuses", status=status, json=answer,
                       headers={"X-RateLimit-Reset": "2026-11-22T21:00:00.000Z"} if status == 429 else {})
    settings = app.config.source("mastodon")
    with pytest.raises(ReplyRefused, match=said):
        mastodon.send_reply(mastodon.reply_client(settings), settings, reply_to, "Ci dispiace!", "key-2")
