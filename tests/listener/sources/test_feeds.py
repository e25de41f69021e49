"""RSS and Atom feeds through requests and feedparser, for real, against recorded HTTP: a Google Alerts
feed (every entry about the brand, links unwrapped), a blog's RSS matched by keyword, conditional GET,
a rate limit, an outage, a malformed entry."""

import pytest

from helpers.paths import FIXTURE_DIR
from listener.jobs.collect import run_source
from listener.sources.feeds import Cursor
from listener.store.mentions import get_cursor

ALERTS = "https://www.google.com/alerts/feeds/09876543210987654321/12345678901234567890"
BLOG = "https://barista-blog.example/feed/"
SOURCES = (f'[[sources]]\ntype = "feed"\nname = "alerts"\nurl = "{ALERTS}"\nbrand = "Caffè Aurora"\n'
           f'[[sources]]\ntype = "feed"\nname = "blog"\nurl = "{BLOG}"\n')


def feed(name: str) -> bytes:
    return (FIXTURE_DIR / "feeds" / name).read_bytes()


@pytest.fixture
def app(make_app):
    return make_app(sources=SOURCES, mailer=None, sleep=lambda s: None)


def test_a_google_alerts_feed_every_entry_about_the_brand(app, recorded_http, caplog):
    recorded_http.get(ALERTS, body=feed("google_alerts.xml"), content_type="application/atom+xml",
                      headers={"ETag": '"v1"', "Last-Modified": "Sun, 22 Nov 2026 09:12:45 GMT"})
    result = run_source(app, app.config.source("alerts"))
    assert (result.status, result.counts.fetched, result.counts.new, result.counts.errors) == ("partial", 3, 2, 1)
    assert "feed: skipped: feed entry ?: no id, link or text" in caplog.text
    recall = app.db["mentions"].get("feed:tag:google.com,2013:googlealerts/feed:11111111111111111111")
    assert recall["url"] == "https://www.cronaca-milano.example/2026/11/22/caffe-aurora-ritiro-capsule"
    assert recall["text"].startswith("Caffè Aurora ritira le capsule del lotto 24-118: rimborsi in ritardo\n\n"
                                     "Diversi clienti di Caffè Aurora lamentano")
    assert (recall["brand"], recall["created_at"], recall["source"]) == ("Caffè Aurora", "2026-11-22T08:45:00Z", "feed")
    assert recorded_http.calls[0].request.headers["User-Agent"].startswith("ascolto/")
    assert Cursor.load(get_cursor(app.db, "feed:alerts", ALERTS)) == Cursor('"v1"', "Sun, 22 Nov 2026 09:12:45 GMT")


def test_an_unchanged_feed_costs_one_304(app, recorded_http):
    recorded_http.get(ALERTS, body=feed("google_alerts.xml"), headers={"ETag": '"v1"'})
    recorded_http.get(ALERTS, status=304)
    run_source(app, app.config.source("alerts"))
    again = run_source(app, app.config.source("alerts"))
    assert (again.status, again.counts.fetched, again.counts.new) == ("ok", 0, 0)
    assert recorded_http.calls[1].request.headers["If-None-Match"] == '"v1"'
    assert Cursor.load(get_cursor(app.db, "feed:alerts", ALERTS)).etag == '"v1"'  # kept


def test_a_blog_feed_is_matched_by_keyword_and_its_html_made_text(app, recorded_http):
    recorded_http.get(BLOG, body=feed("blog.rss"), content_type="application/rss+xml")
    result = run_source(app, app.config.source("blog"))
    assert (result.counts.fetched, result.counts.new, result.counts.skipped) == (3, 2, 1)  # aurora boreale excluded
    brera = app.db["mentions"].get("feed:https://barista-blog.example/aurora-brera")
    assert brera["text"] == ("Il negozio di Caffè Aurora a Brera: servizio lento e tazzine sporche\n\n"
                             "Venti minuti per un cappuccino.\nE nessuno si è scusato.")
    assert (brera["author"], brera["lang"], brera["created_at"]) == ("Marco", "it", "2026-11-22T08:30:00Z")
    assert app.db["mentions"].get("feed:https://barista-blog.example/moka-o-espresso")["brand"] == "Lanificio Vento"


def test_a_rate_limit_waits_for_retry_after_and_an_outage_is_retried_then_recorded(app, recorded_http, clock):
    recorded_http.get(ALERTS, status=429, headers={"Retry-After": "1800"})
    limited = run_source(app, app.config.source("alerts"))
    assert limited.status == "rate_limited" and "429" in limited.message
    assert limited.message.endswith("asked again after 2026-11-23T09:30:00Z")  # the test clock + 1800 s
    assert run_source(app, app.config.source("alerts")).status == "rate_limited"  # not asked before then
    for _ in range(3):
        recorded_http.get(BLOG, status=503)
    down = run_source(app, app.config.source("blog"))
    assert down.status == "error" and down.message == "feed 'blog': unavailable after retries (503 Service Unavailable)"
    assert len(recorded_http.calls) == 4
    run = list(app.db["runs"].rows)[-1]
    assert (run["job"], run["status"]) == ("feed:blog", "error")


def test_a_feed_naming_an_unknown_brand_is_a_config_error(tmp_path):
    from helpers.apps import write_config
    from listener.config import load_config
    from listener.kernel.errors import ConfigError

    path = write_config(tmp_path, sources=f'[[sources]]\ntype = "feed"\nname = "f"\nurl = "{BLOG}"\nbrand = "Nope"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.brand: no brand named 'Nope'"):
        load_config(path)
    bad = write_config(tmp_path, sources='[[sources]]\ntype = "feed"\nname = "f"\nurl = "ftp://x"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: expected an http\(s\) URL"):
        load_config(bad)
