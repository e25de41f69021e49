"""The shipped example configuration, with fake credentials: X and Reddit end to end into SQLite and alerts."""

from helpers.paths import EXAMPLE_CONFIG, fixture_json
from listener.jobs.collect import run_source
from listener.jobs.dispatch import run_dispatch


def example_app(tmp_path, make_app):
    text = EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', f'path = "{tmp_path / "a.db"}"')
    config_file = tmp_path / "example.toml"
    config_file.write_text(text.replace("sample_mentions.jsonl", str(EXAMPLE_CONFIG.parent / "sample_mentions.jsonl")),
                           encoding="utf-8")
    return make_app(config=config_file, mailer=None, sleep=lambda s: None)


def test_both_collectors_from_the_example_config(tmp_path, make_app, monkeypatch, recorded_http, no_sleep):
    monkeypatch.setenv("X_BEARER_TOKEN", "fixture-bearer-token")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "fixture-client-id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "fixture-client-secret")
    app = example_app(tmp_path, make_app)
    recorded_http.get("https://api.twitter.com/2/tweets/search/recent", json=fixture_json("x", "search_page1.json"))
    recorded_http.get("https://api.twitter.com/2/tweets/search/recent", json=fixture_json("x", "search_page2.json"))
    recorded_http.post("https://www.reddit.com/api/v1/access_token", json=fixture_json("reddit", "access_token.json"))
    recorded_http.get("https://oauth.reddit.com/r/italy+coffee/search/", json=fixture_json("reddit", "search_caffe_aurora.json"))
    recorded_http.get("https://oauth.reddit.com/r/italy+coffee/comments/", json=fixture_json("reddit", "comments.json"))

    x_run = run_source(app, app.config.source("x"))
    reddit_run = run_source(app, app.config.source("reddit"))
    assert (x_run.status, x_run.counts.new) == ("partial", 3)  # one malformed tweet in the recording
    assert (reddit_run.status, reddit_run.counts.new) == ("ok", 3)
    sources = dict(app.db.execute("select source, count(*) from mentions group by source").fetchall())
    assert sources == {"x": 3, "reddit": 3}
    assert app.db["alerts"].count == 4 and run_dispatch(app).pending == 4  # no SMTP in the example


def test_without_credentials_social_sources_are_skipped_and_the_import_still_runs(tmp_path, make_app, monkeypatch):
    for variable in ("X_BEARER_TOKEN", "REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    app = example_app(tmp_path, make_app)
    runs = {s.name: run_source(app, s) for s in app.config.sources}
    assert runs["sample"].counts.new == 50
    assert runs["x"].status == runs["reddit"].status == "skipped"
    assert "X_BEARER_TOKEN" in runs["x"].message and "REDDIT_CLIENT_ID" in runs["reddit"].message
