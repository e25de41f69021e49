"""App reviews with their stars: the App Store's customer-reviews feed (requests, recorded HTTP) and
Google Play (google-play-scraper for real, against a recorded cassette); paging, cursor resume, rate
limits, malformed reviews, 1-2 stars alerting whatever the text says, an edited review replacing
the old one."""

import pytest

from helpers.http import cassette
from helpers.paths import FIXTURE_DIR, fixture_json
from listener.jobs.collect import run_source

APP_STORE = "https://itunes.apple.com/it/rss/customerreviews/page={}/id=1234567890/sortby=mostrecent/json"
SOURCES = ('[[sources]]\ntype = "appstore"\nname = "ios"\napp_id = "1234567890"\nbrand = "Caffè Aurora"\n'
           'max_pages = 3\n'
           '[[sources]]\ntype = "googleplay"\nname = "android"\napp_id = "com.caffeaurora.app"\n'
           'brand = "Caffè Aurora"\npage_size = 10\nmax_pages = 2\n')


@pytest.fixture
def app(make_app):
    return make_app(sources=SOURCES, mailer=None, sleep=lambda s: None)


def test_app_store_pages_back_with_stars_and_low_ratings_alert(app, recorded_http, caplog):
    recorded_http.get(APP_STORE.format(1), json=fixture_json("appstore", "it_page1.json"))
    recorded_http.get(APP_STORE.format(2), json=fixture_json("appstore", "it_page2.json"))
    recorded_http.get(APP_STORE.format(3), json=fixture_json("appstore", "empty.json"))
    result = run_source(app, app.config.source("ios"))
    assert (result.counts.fetched, result.counts.new, result.counts.errors) == (4, 3, 1)  # one review has no text
    crash = app.db["mentions"].get("appstore:11000000005")
    assert (crash["rating"], crash["author"], crash["lang"], crash["created_at"]) == (1, "Giulia", "it",
                                                                                        "2026-11-22T08:10:13Z")
    assert crash["text"].startswith("Crash continui\n\nCaffè Aurora, l'app crasha")
    slow = app.db["mentions"].get("appstore:11000000002")
    assert (slow["rating"], slow["nps_class"], slow["alert_rule"]) == (2, "detractor", "rating")  # 2 stars, no keyword
    assert app.db["mentions"].get("appstore:11000000004")["nps_class"] == "promoter"


def test_app_store_resumes_from_its_cursor(app, recorded_http):
    recorded_http.get(APP_STORE.format(1), json=fixture_json("appstore", "it_page1.json"))
    recorded_http.get(APP_STORE.format(2), json=fixture_json("appstore", "it_page2.json"))
    recorded_http.get(APP_STORE.format(3), json=fixture_json("appstore", "empty.json"))
    recorded_http.get(APP_STORE.format(1), json=fixture_json("appstore", "it_page1.json"))
    run_source(app, app.config.source("ios"))
    again = run_source(app, app.config.source("ios"))
    assert (again.counts.fetched, again.counts.new) == (0, 0) and len(recorded_http.calls) == 4  # stopped at page 1


def test_app_store_rate_limit(app, recorded_http):
    recorded_http.get(APP_STORE.format(1), status=429, headers={"Retry-After": "600"})
    assert run_source(app, app.config.source("ios")).status == "rate_limited"


def test_google_play_pages_with_the_library_and_keeps_stars_and_replies(app, caplog):
    with cassette(FIXTURE_DIR / "googleplay" / "reviews.yaml"):
        result = run_source(app, app.config.source("android"))
    assert (result.status, result.counts.fetched, result.counts.new, result.counts.errors) == ("partial", 5, 4, 1)
    crash = app.db["mentions"].get("googleplay:gp:AOqpTOF0001")
    assert (crash["rating"], crash["author"], crash["created_at"]) == (1, "Giulia Rossi", "2026-11-22T09:50:00Z")
    assert crash["reply"] == "Ci dispiace Giulia, stiamo correggendo il problema nella versione 4.2.1."
    assert crash["url"] == "https://play.google.com/store/apps/details?id=com.caffeaurora.app&reviewId=gp:AOqpTOF0001"
    assert (crash["nps_class"], crash["alert_rule"]) == ("detractor", "rating")
    assert "googleplay: skipped: Google Play review gp:broken: no id, text, stars or time" in caplog.text


def test_google_play_resumes_and_an_edited_review_replaces_the_old_one(app):
    with cassette(FIXTURE_DIR / "googleplay" / "reviews.yaml"):
        run_source(app, app.config.source("android"))
    with cassette(FIXTURE_DIR / "googleplay" / "reviews_newer.yaml"):
        again = run_source(app, app.config.source("android"))
    assert again.counts.new == 1 and app.db["mentions"].count == 5
    edited = app.db["mentions"].get("googleplay:gp:AOqpTOF0001")
    assert edited["rating"] == 3 and edited["text"].startswith("Aggiornato: ora l'app funziona")
    assert edited["revision"] == 1795344000
    assert app.db.execute("select count(*) from alerts where mention_id = 'googleplay:gp:AOqpTOF0001'"
                          ).fetchone()[0] == 1  # the 1-star version alerted; the edit does not alert again


def test_google_play_rate_limit_is_seen_not_mistaken_for_a_quiet_app(app):
    with cassette(FIXTURE_DIR / "googleplay" / "rate_limited.yaml"):
        result = run_source(app, app.config.source("android"))
    assert result.status == "rate_limited" and "429" in result.message
