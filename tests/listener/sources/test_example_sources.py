"""The shipped example configuration, with fake credentials: X and Reddit end to end into SQLite and
alerts; its sample data, which never ages."""

from datetime import datetime, timezone

from helpers.paths import EXAMPLE_CONFIG, fixture_json
from listener.jobs.collect import run_source
from listener.jobs.dispatch import run_dispatch
from listener.jobs.surveys import import_survey_files
from listener.reports.figures import brand_report, default_period

SAMPLES = ("sample_mentions.jsonl", "sample_orders.csv", "sample_replies.csv")


def example_app(tmp_path, make_app, **options):
    text = EXAMPLE_CONFIG.read_text().replace('path = "../ascolto.db"', f'path = "{tmp_path / "a.db"}"')
    for sample in SAMPLES:
        text = text.replace(f'"{sample}"', f'"{EXAMPLE_CONFIG.parent / sample}"')
    config_file = tmp_path / "example.toml"
    config_file.write_text(text, encoding="utf-8")
    return make_app(config=config_file, mailer=None, sleep=lambda s: None, **options)


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


def test_the_example_never_ages(tmp_path, make_app, monkeypatch, clock):
    """Years after its files were written, the example's report still shows the last weeks: the sample
    files' dates move by whole days so that the newest is the day before the import."""
    monkeypatch.setenv("ASCOLTO_SECRET", "s" * 32)
    clock.moment = datetime(2031, 6, 15, 10, 30, tzinfo=timezone.utc)
    app = example_app(tmp_path, make_app)
    assert run_source(app, app.config.source("sample")).counts.new == 50
    assert import_survey_files(app) == (6, 88)
    newest = {table: app.db.execute(f"select max({column}) from {table}").fetchone()[0][:10]
              for table, column in (("mentions", "created_at"), ("orders", "purchased_at"),
                                    ("survey_responses", "answered_at"))}
    assert newest == dict.fromkeys(newest, "2031-06-14")
    oldest = app.db.execute("select min(answered_at) from survey_responses").fetchone()[0]
    assert oldest.endswith("T13:37:03Z")  # whole days: each time of day kept (the file's first reply)
    report = brand_report(app.db, "Caffè Aurora", default_period(clock()), app.config.themes)
    assert report.survey.responses >= 30 and report.mentions == 50 and report.weekly_nps
    clock.advance(days=400)  # imported again later: every row already known, nothing moves twice
    assert run_source(app, app.config.source("sample")).counts.new == 0 and import_survey_files(app) == (0, 0)
