"""Google reviews (Business Profile API v4) through google-auth, for real, against recorded HTTP
(responses): the refresh token traded for an access token, reviews paged by pageToken with the
Bearer token, stars kept, a rating without words kept, Google's translation dropped for the
original, the owner's reply kept, a revoked refresh token named, back to the cursor next run."""

from urllib.parse import parse_qs

import pytest

from helpers.paths import fixture_json
from listener.jobs.collect import run_source
from listener.sources.google_reviews import Cursor
from listener.store.mentions import get_cursor

LOCATION = "accounts/1092837465/locations/5566778899"
REVIEWS = f"https://mybusiness.googleapis.com/v4/{LOCATION}/reviews"
TOKEN = "https://oauth2.googleapis.com/token"
SOURCE = (f'[[sources]]\ntype = "google_reviews"\nname = "google"\nbrand = "Caffè Aurora"\n'
          f'locations = ["{LOCATION}"]\n')


@pytest.fixture
def app(make_app, monkeypatch):
    for name, value in {"GOOGLE_CLIENT_ID": "123-fake.apps.googleusercontent.com", "GOOGLE_CLIENT_SECRET": "fake-secret",
                        "GOOGLE_REFRESH_TOKEN": "1//fake-refresh-token"}.items():
        monkeypatch.setenv(name, value)
    return make_app(sources=SOURCE, mailer=None, sleep=lambda s: None)


def run_google(app):
    return run_source(app, app.config.source("google"), brand="Caffè Aurora")


def test_reviews_with_an_access_token_from_the_refresh_token(app, recorded_http):
    token = recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    recorded_http.get(REVIEWS, json=fixture_json("google_reviews", "page1.json"))
    recorded_http.get(REVIEWS, json=fixture_json("google_reviews", "page2.json"))
    result = run_google(app)
    assert parse_qs(token.calls[0].request.body.decode()) == {"grant_type": ["refresh_token"], "client_id": [
        "123-fake.apps.googleusercontent.com"], "client_secret": ["fake-secret"], "refresh_token": ["1//fake-refresh-token"],
        "scope": ["https://www.googleapis.com/auth/business.manage"]}
    first, second = (c.request for c in recorded_http.calls if c.request.url.startswith(REVIEWS))
    assert first.headers["Authorization"] == "Bearer ya29.fake-access-token-for-tests"
    assert "orderBy=updateTime+desc" in first.url and "pageToken=CAESBggAEgIIAQ" in second.url
    assert (result.counts.fetched, result.counts.new, result.counts.errors) == (5, 4, 1)  # one has no stars
    rows = {r["native_id"]: r for r in app.db["mentions"].rows}
    assert rows["AbFvOqm1"]["rating"] == 1 and rows["AbFvOqm1"]["author"] == "Giulia R."
    assert rows["AbFvOqm1"]["created_at"] == "2026-11-22T17:40:11Z"
    assert (rows["AbFvOqm2"]["text"], rows["AbFvOqm2"]["rating"]) == ("★★☆☆☆", 2)  # stars, no words: still heard
    assert rows["AbFvOqm3"]["text"] == "Caffè ottimo, personale gentile" and rows["AbFvOqm3"]["reply"] == "Grazie Anna, a presto!"
    assert rows["AbFvOqm4"]["author"] is None  # an anonymous reviewer stays anonymous
    alerted = {a["mention_id"] for a in app.db["alerts"].rows}
    assert {"google_reviews:AbFvOqm1", "google_reviews:AbFvOqm2"} <= alerted  # 1-2 stars alert, words or not
    assert Cursor.load(get_cursor(app.db, "google_reviews:google", LOCATION)).since == "2026-11-22T17:40:11Z"


def test_the_next_run_stops_at_the_cursor(app, recorded_http):
    recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    page = fixture_json("google_reviews", "page1.json")
    recorded_http.get(REVIEWS, json={"reviews": page["reviews"][2:]})
    run_google(app)
    recorded_http.get(REVIEWS, json=page)  # two newer, then the committed one: no next page asked
    second = run_google(app)
    assert (second.counts.fetched, second.counts.new) == (2, 2)


def test_a_revoked_refresh_token_is_named(app, recorded_http):
    recorded_http.post(TOKEN, status=400, json=fixture_json("google_reviews", "token_revoked.json"))
    refused = run_google(app)
    assert refused.status == "error" and "invalid_grant" in refused.message
    assert "check GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN" in refused.message


def test_a_location_the_account_does_not_manage_is_refused(app, recorded_http):
    recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    recorded_http.get(REVIEWS, status=403, json={"error": {"code": 403, "status": "PERMISSION_DENIED",
                                                           "message": "The caller does not have permission"}})
    refused = run_google(app)
    assert refused.status == "error" and "manages the location" in refused.message


def test_a_bad_location_name_names_the_key(make_app):
    from listener.kernel.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sources\[0\]\.locations: expected names like"):
        make_app(sources=SOURCE.replace(LOCATION, "5566778899"), mailer=None)


def test_a_missing_credential_is_named_and_a_429_waits(app, recorded_http, make_app, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLIENT_SECRET")
    missing = run_google(app)
    assert missing.status == "skipped" and "GOOGLE_CLIENT_SECRET is not set" in missing.message
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "fake-secret")
    recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    recorded_http.get(REVIEWS, status=429, headers={"Retry-After": "120"},
                      json={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded"}})
    limited = run_google(make_app(sources=SOURCE, mailer=None))  # a fresh process: its client is made anew
    assert limited.status == "rate_limited" and "429" in limited.message


def test_the_owners_reply_is_put_on_the_review(app, recorded_http):
    import json as json_module

    from listener.replies.sending import raw_item
    from listener.sources import google_reviews
    from listener.sources.base import ReplyRefused, ReplyTo

    recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    recorded_http.get(REVIEWS, json=fixture_json("google_reviews", "page1.json"))
    recorded_http.get(REVIEWS, json=fixture_json("google_reviews", "page2.json"))
    run_google(app)
    row = app.db["mentions"].get("google_reviews:AbFvOqm1")
    reply_to = ReplyTo(row["native_id"], raw_item(row["raw"]), row["author"], row["url"])
    recorded_http.post(TOKEN, json=fixture_json("google_reviews", "token.json"))
    put = recorded_http.put(f"{REVIEWS}/AbFvOqm1/reply", json={"comment": "Ci dispiace Giulia, ti scriviamo.",
                                                              "updateTime": "2026-11-23T09:00:00.123456Z"})
    refused = recorded_http.put(f"{REVIEWS}/AbFvOqm1/reply", status=403, json={
        "error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}})
    settings = app.config.source("google")
    session = google_reviews.reply_client(settings)
    assert google_reviews.send_reply(session, settings, reply_to, "Ci dispiace Giulia, ti scriviamo.", "k",
                                     sleep=lambda s: None) == f"{LOCATION}/reviews/AbFvOqm1"
    sent = put.calls[0].request
    assert json_module.loads(sent.body) == {"comment": "Ci dispiace Giulia, ti scriviamo."}
    assert sent.headers["Authorization"] == "Bearer ya29.fake-access-token-for-tests"
    with pytest.raises(ReplyRefused, match="403.*manages the location"):
        google_reviews.send_reply(session, settings, reply_to, "Ci dispiace", "k2", sleep=lambda s: None)
    assert refused.call_count == 1
