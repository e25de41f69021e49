"""Bluesky through the atproto client, for real, against recorded HTTP (respx, httpx's transport):
login with an app password, searchPosts per keyword paged by its cursor, the since cursor, a 429
with its reset time, a refused or missing app password, a malformed post."""

import json

import httpx
import pytest

from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.bluesky import Cursor
from listener.store.mentions import get_cursor

XRPC = "https://bsky.social/xrpc"
SOURCE = '[[sources]]\ntype = "bluesky"\nname = "bluesky"\nlimit = 3\n'


@pytest.fixture
def app(make_app, monkeypatch):
    monkeypatch.setenv("BLUESKY_HANDLE", "caffeaurora.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    return make_app(sources=SOURCE, mailer=None, sleep=lambda s: None)


def route_search(mock, *answers):
    """searchPosts answering in turn: a dict is a 200 JSON answer, else an httpx.Response."""
    return mock.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[a if isinstance(a, httpx.Response) else httpx.Response(200, json=a) for a in answers])


def run_aurora(app):
    return run_source(app, app.config.source("bluesky"), brand="Caffè Aurora")


def test_login_then_search_paged_by_its_cursor(app, recorded_httpx):
    login = recorded_httpx.post(f"{XRPC}/com.atproto.server.createSession").respond(json=fixture_json("bluesky", "session.json"))
    empty = {"posts": [], "cursor": None}
    search = route_search(recorded_httpx, fixture_json("bluesky", "search_page1.json"),
                          fixture_json("bluesky", "search_page2.json"), empty)
    result = run_aurora(app)
    assert json.loads(login.calls[0].request.content) == {"identifier": "caffeaurora.bsky.social",
                                                          "password": "abcd-efgh-ijkl-mnop"}
    first, second = (dict(c.request.url.params) for c in search.calls[:2])
    assert first["q"] == "Caffè Aurora" and first["sort"] == "latest" and "cursor" not in first
    token = fixture_json("bluesky", "session.json")["accessJwt"]  # a made-up token, signed by nobody
    assert second["cursor"] == "3" and search.calls[0].request.headers["Authorization"] == f"Bearer {token}"
    assert (result.counts.fetched, result.counts.new, result.counts.skipped, result.counts.errors) == (5, 3, 1, 1)
    giulia = app.db["mentions"].get("bluesky:at://did:plc:giulia/app.bsky.feed.post/3lbcd5")
    assert giulia["url"] == "https://bsky.app/profile/giulia.bsky.social/post/3lbcd5"
    assert (giulia["author"], giulia["lang"], giulia["created_at"]) == ("giulia.bsky.social", "it", "2026-11-22T10:00:00Z")
    assert Cursor.load(get_cursor(app.db, "bluesky:bluesky", "Caffè Aurora")) == Cursor("2026-11-22T10:00:00Z")
    assert dict(search.calls[2].request.url.params)["q"] == "CaffeAurora"  # the @handle keyword, searched bare


def test_the_next_run_asks_since_its_cursor(app, recorded_httpx):
    recorded_httpx.post(f"{XRPC}/com.atproto.server.createSession").respond(json=fixture_json("bluesky", "session.json"))
    empty = {"posts": [], "cursor": None}
    search = route_search(recorded_httpx, fixture_json("bluesky", "search_page1.json"), *[empty] * 4)
    run_aurora(app)  # "Caffè Aurora": two pages; "CaffeAurora": one
    run_aurora(app)
    assert "since" not in dict(search.calls[0].request.url.params)
    assert dict(search.calls[3].request.url.params)["since"] == "2026-11-22T10:00:00Z"


def test_a_429_waits_for_its_reset(app, recorded_httpx, clock):
    recorded_httpx.post(f"{XRPC}/com.atproto.server.createSession").respond(json=fixture_json("bluesky", "session.json"))
    reset = int(clock().timestamp()) + 300
    route_search(recorded_httpx, httpx.Response(429, headers={"ratelimit-reset": str(reset), "ratelimit-remaining": "0"},
                                                json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}))
    limited = run_aurora(app)
    assert limited.status == "rate_limited" and "resumes after 2026-11-23T09:05:00Z" in limited.message


def test_a_refused_or_missing_app_password_is_named(app, recorded_httpx, make_app, monkeypatch):
    recorded_httpx.post(f"{XRPC}/com.atproto.server.createSession").respond(
        401, json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
    refused = run_aurora(app)
    assert refused.status == "error" and "check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD" in refused.message
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    missing = run_source(make_app(sources=SOURCE, mailer=None), app.config.source("bluesky"))
    assert missing.status == "skipped" and "BLUESKY_APP_PASSWORD is not set" in missing.message


def test_a_reply_is_posted_in_the_customers_thread(app, recorded_httpx):
    from listener.replies.sending import raw_item
    from listener.sources import bluesky
    from listener.sources.base import ReplyTo

    recorded_httpx.post(f"{XRPC}/com.atproto.server.createSession").respond(json=fixture_json("bluesky", "session.json"))
    route_search(recorded_httpx, fixture_json("bluesky", "search_page1.json"), {"posts": [], "cursor": None},
                 {"posts": [], "cursor": None})
    run_aurora(app)
    first = fixture_json("bluesky", "search_page1.json")["posts"][0]
    row = app.db["mentions"].get(f"bluesky:{first['uri']}")
    reply_to = ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])
    created = recorded_httpx.post(f"{XRPC}/com.atproto.repo.createRecord").mock(side_effect=[
        httpx.Response(200, json={"uri": "at://did:plc:caffeaurora/app.bsky.feed.post/3lcreply1",
                                  "cid": "bafyreireply1", "validationStatus": "valid"}),
        httpx.Response(429, json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                       headers={"ratelimit-reset": "1795400000"})])
    settings = app.config.source("bluesky")
    client = bluesky.reply_client(settings)
    assert bluesky.send_reply(client, settings, reply_to, "Ci dispiace!", "k") == \
        "at://did:plc:caffeaurora/app.bsky.feed.post/3lcreply1"
    sent = json.loads(created.calls[0].request.content)
    assert sent["repo"] == "caffeaurora.bsky.social" and sent["record"]["text"] == "Ci dispiace!"
    assert sent["record"]["reply"]["parent"] == {"$type": "com.atproto.repo.strongRef", "uri": first["uri"],
                                                 "cid": first["cid"]}
    assert sent["record"]["reply"]["root"]["uri"] == first["uri"]
    assert created.calls[0].request.headers["Authorization"].startswith("Bearer ")
    from listener.sources.base import ReplyRefused

    with pytest.raises(ReplyRefused, match="Bluesky rate limit reached; try again after 2026"):
        bluesky.send_reply(client, settings, reply_to, "Ci dispiace!", "k2")


def test_the_reply_page_asks_whether_a_reply_can_be_posted_without_logging_in(app, monkeypatch):
    """Bluesky limits logins per account: a login per view of the reply page could lock replies out."""
    import respx

    from listener.replies.sending import reply_writer
    from listener.sources import bluesky

    settings = app.config.source("bluesky")
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as network:  # any request would fail
        login = network.post(f"{XRPC}/com.atproto.server.createSession").respond(json=fixture_json("bluesky", "session.json"))
        assert reply_writer(bluesky, settings) is None
        monkeypatch.delenv("BLUESKY_APP_PASSWORD")
        assert "BLUESKY_APP_PASSWORD is not set" in reply_writer(bluesky, settings)
    assert not login.called and not network.calls
