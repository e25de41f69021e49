"""YouTube through google-api-python-client, for real, against a loopback server playing recorded
Data API answers: comment threads on the brand's channel paged by pageToken, the API key sent, back
to the cursor next run, an edited comment replacing its text, the daily quota counted in units, a
quotaExceeded answer, a bad key named."""

import pytest

from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.youtube import Cursor
from listener.store.mentions import get_cursor

THREADS = "/youtube/v3/commentThreads"


def source(api_server, extra=""):
    return (f'[[sources]]\ntype = "youtube"\nname = "youtube"\nbrand = "Caffè Aurora"\n'
            f'channel_id = "UCaurora0000000000000000"\napi_root = "{api_server.url}"\n{extra}')


@pytest.fixture
def app(make_app, api_server, monkeypatch):
    monkeypatch.setenv("YOUTUBE_API_KEY", "fake-key-for-tests")
    return make_app(sources=source(api_server), mailer=None, sleep=lambda s: None)


def run_youtube(app):
    return run_source(app, app.config.source("youtube"), brand="Caffè Aurora")


def test_channel_threads_paged_then_read_back_to_the_cursor(app, api_server):
    api_server.answer(THREADS, fixture_json("youtube", "channel_page1.json"))
    api_server.answer(THREADS, fixture_json("youtube", "channel_page2.json"))
    first = run_youtube(app)
    calls = api_server.played(THREADS)
    assert calls[0]["query"] == {"part": "snippet", "allThreadsRelatedToChannelId": "UCaurora0000000000000000",
                                 "order": "time", "maxResults": "100", "textFormat": "plainText",
                                 "key": "fake-key-for-tests", "alt": "json"}
    assert calls[1]["query"]["pageToken"] == "QURTSl9pMk"
    assert (first.counts.fetched, first.counts.new, first.counts.errors) == (4, 3, 1)  # one thread has no text
    giulia = app.db["mentions"].get("youtube:UgxA1")
    assert giulia["url"] == "https://www.youtube.com/watch?v=vid00000001&lc=UgxA1"
    assert (giulia["author"], giulia["brand"], giulia["lang"]) == ("@giulia.r", "Caffè Aurora", "it")
    assert Cursor.load(get_cursor(app.db, "youtube:youtube", "channel:UCaurora0000000000000000")).since == \
        "2026-11-22T18:00:00Z"

    api_server.answer(THREADS, fixture_json("youtube", "channel_newer.json"))
    second = run_youtube(app)  # the newer page ends at a committed comment: no second page asked
    assert (second.counts.fetched, second.counts.new) == (1, 1) and len(api_server.played(THREADS)) == 3
    assert get_cursor(app.db, "youtube:youtube", f"budget:{app.now():%Y-%m-%d}") == "3"  # quota units, one a page


def test_an_edited_comment_replaces_its_text(app, api_server):
    page = fixture_json("youtube", "channel_page2.json")
    api_server.answer(THREADS, page)
    run_youtube(app)
    comment = page["items"][0]["snippet"]["topLevelComment"]["snippet"]
    comment.update(textOriginal="Spedizione in ritardo, ma il servizio clienti mi ha rimborsato: grazie!",
                   updatedAt="2026-11-23T10:00:00Z")
    app.db["cursors"].delete_where("source = 'youtube:youtube'")  # read it again, as after an edit
    api_server.answer(THREADS, page)
    run_youtube(app)
    assert app.db["mentions"].get("youtube:UgxA3")["text"].startswith("Spedizione in ritardo, ma")


def test_quota_exceeded_waits_for_the_reset(app, api_server):
    api_server.answer(THREADS, fixture_json("youtube", "quota_exceeded.json"), status=403)
    limited = run_youtube(app)
    assert limited.status == "rate_limited" and "quotaExceeded" in limited.message and "T08:00:00Z" in limited.message
    assert run_youtube(app).status == "rate_limited" and len(api_server.requests) == 1  # not asked before then


def test_a_bad_key_is_named(app, api_server):
    api_server.answer(THREADS, fixture_json("youtube", "key_invalid.json"), status=400)
    refused = run_youtube(app)
    assert refused.status == "error" and "check YOUTUBE_API_KEY" in refused.message


def test_the_daily_budget_stops_before_another_page(make_app, api_server, monkeypatch):
    monkeypatch.setenv("YOUTUBE_API_KEY", "fake-key-for-tests")
    app = make_app(sources=source(api_server, "daily_quota_units = 1\n"), mailer=None, sleep=lambda s: None)
    api_server.answer(THREADS, fixture_json("youtube", "channel_page1.json"))
    result = run_youtube(app)  # one page spends the day's one unit; the second page is not asked
    assert result.status == "budget_spent" and len(api_server.played(THREADS)) == 1
    assert app.db["mentions"].count == 2


def test_settings_need_a_channel_or_videos(make_app):
    from listener.kernel.errors import ConfigError

    with pytest.raises(ConfigError, match="channel_id"):
        make_app(sources='[[sources]]\ntype = "youtube"\nname = "yt"\nbrand = "Caffè Aurora"\n', mailer=None)


def test_a_missing_key_is_named_and_nothing_is_asked(make_app, monkeypatch):
    monkeypatch.delenv("YOUTUBE_API_KEY", raising=False)
    nowhere = type("Nowhere", (), {"url": "http://127.0.0.1:9/"})()  # port 9 (discard): a request would fail
    skipped = run_youtube(make_app(sources=source(nowhere), mailer=None))
    assert skipped.status == "skipped" and "YOUTUBE_API_KEY is not set" in skipped.message


def test_a_reply_goes_into_the_comments_thread_as_the_channel(make_app, api_server, monkeypatch):
    import json
    from urllib.parse import parse_qs

    from listener.replies.sending import raw_item
    from listener.sources import youtube
    from listener.sources.base import ReplyRefused, ReplyTo

    for name, value in {"YOUTUBE_API_KEY": "fake-key-for-tests", "YOUTUBE_CLIENT_ID": "123-fake.apps.googleusercontent.com",
                        "YOUTUBE_CLIENT_SECRET": "fake-secret", "YOUTUBE_REFRESH_TOKEN": "1//fake-refresh"}.items():
        monkeypatch.setenv(name, value)
    app = make_app(sources=source(api_server, f'token_uri = "{api_server.url}token"'), mailer=None,
                   sleep=lambda s: None)
    api_server.answer(THREADS, fixture_json("youtube", "channel_page1.json"))
    api_server.answer(THREADS, fixture_json("youtube", "channel_page2.json"))
    run_youtube(app)
    row = app.db["mentions"].get("youtube:UgxA1")
    reply_to = ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])
    api_server.answer("/token", {"access_token": "ya29.fake-write-token", "expires_in": 3599, "token_type": "Bearer"})
    api_server.answer("/youtube/v3/comments", {"kind": "youtube#comment", "id": "UgxA1.9zReply1",
                                               "snippet": {"parentId": "UgxA1", "textOriginal": "Ci dispiace!"}})
    api_server.answer("/youtube/v3/comments", fixture_json("youtube", "quota_exceeded.json"), status=403)
    settings = app.config.source("youtube")
    client = youtube.reply_client(settings)
    assert youtube.send_reply(client, settings, reply_to, "Ci dispiace!", "k") == "UgxA1.9zReply1"
    token = parse_qs(api_server.played("/token")[0]["body"].decode())
    assert token["grant_type"] == ["refresh_token"] and token["scope"] == [youtube.WRITE_SCOPE]
    posted = api_server.played("/youtube/v3/comments")[0]
    assert json.loads(posted["body"]) == {"snippet": {"parentId": "UgxA1", "textOriginal": "Ci dispiace!"}}
    assert posted["headers"]["authorization"] == "Bearer ya29.fake-write-token"
    with pytest.raises(ReplyRefused, match="YouTube quota exceeded for today"):
        youtube.send_reply(client, settings, reply_to, "Ci dispiace!", "k2")
