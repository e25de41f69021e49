"""Import collector -> pipeline -> SQLite, on a real database file and a keyword stand-in for the model."""

import json

import pytest

from helpers.paths import FIXTURE_DIR
from listener.jobs.collect import run_import
from listener.sources.base import BadItem, Query
from listener.sources.files import RawItem, Settings, item_to_row
from listener.store.database import open_db

FIXTURE = FIXTURE_DIR / "mentions_with_problems.jsonl"


@pytest.fixture
def app(make_app):
    return make_app(mailer=None)


def source_for(path, brand=None):
    return Settings(name="test", path=path, brand=brand)


def table_counts(db):
    return {t: db[t].count for t in ("mentions", "alerts")}


def test_malformed_rows_are_reported_by_line_and_the_rest_is_saved(app, caplog):
    counts = run_import(app, source_for(FIXTURE))
    assert (counts.fetched, counts.new, counts.errors, counts.skipped) == (10, 3, 5, 2)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(": skipped: ")[0].rsplit(":", 1)[1] for w in warnings] == ["3", "4", "5", "9", "10"]
    assert "missing field 'created_at'" in warnings[0]
    assert "has no time zone" in warnings[2]
    assert set(r["id"] for r in app.db["mentions"].rows) == {"x:100", "x:101", "reddit:104"}


def test_saved_row_is_complete(app):
    run_import(app, source_for(FIXTURE))
    row = app.db["mentions"].get("x:101")
    raw = json.loads(row.pop("raw"))
    assert row == {
        "id": "x:101", "source": "x", "native_id": "101", "brand": "Caffè Aurora", "author": "tom", "url": None,
        "text": "I love Caffè Aurora", "lang": "en", "created_at": "2026-11-22T10:00:00Z",
        "collected_at": "2026-11-23T09:00:00Z", "sentiment": "positive", "sentiment_score": 0.8,
        "p_negative": 0.05, "p_neutral": 0.15, "p_positive": 0.8, "model": "test:keywords", "nps_class": "promoter",
        "p_unhappy": None, "alert_rule": None, "rating": None, "text_length": None,
        "alert_threshold": None, "revision": None, "reply": None,
    }
    assert raw["created_at"] == "2026-11-22T11:00:00+01:00"


def test_every_detractor_has_exactly_one_alert_with_its_brand_recipients(app):
    run_import(app, source_for(FIXTURE))
    alerts = {a["mention_id"]: a for a in app.db["alerts"].rows}
    assert set(alerts) == {"x:100", "reddit:104"}
    deliveries = {(d["alert_id"], d["channel"], d["target"]): d for d in app.db["deliveries"].rows}
    assert set(deliveries) == {(alerts["x:100"]["id"], "email", "cm@example.com"),
                               (alerts["reddit:104"]["id"], "email", "cm@example.com"),
                               (alerts["reddit:104"]["id"], "email", "wool@example.com")}  # the brand's own
    assert {(d["status"], d["attempts"], d["mode"]) for d in deliveries.values()} == {("pending", 0, "immediate")}


def test_reimporting_the_same_file_changes_nothing(app):
    run_import(app, source_for(FIXTURE))
    before = {t: list(app.db[t].rows) for t in ("mentions", "alerts")}
    scored_before = sum(len(c) for c in app.scorer.calls)
    counts = run_import(app, source_for(FIXTURE))
    assert counts.new == 0 and counts.scored == 0
    assert {t: list(app.db[t].rows) for t in ("mentions", "alerts")} == before
    assert sum(len(c) for c in app.scorer.calls) == scored_before  # nothing was scored twice


def test_csv_export_and_a_fixed_brand(app, tmp_path):
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "id,source,author,text,created_at,url\n"
        '1,instagram,ana,"Bel maglione, ottimo",2026-11-20T10:00:00Z,https://instagram.com/p/1\n'
        "2,instagram,bo,,2026-11-20T10:00:00Z,\n"
        "3,instagram,cy,too,many,cells,here,!\n", encoding="utf-8")
    counts = run_import(app, source_for(csv_file, brand="Lanificio Vento"))
    assert (counts.new, counts.errors) == (1, 2)
    assert app.db["mentions"].get("instagram:1")["brand"] == "Lanificio Vento"


def test_full_text_search_finds_mentions(app):
    run_import(app, source_for(FIXTURE))
    hits = [r["id"] for r in app.db["mentions"].search("pacco")]
    assert hits == ["x:100"]


def test_each_run_is_recorded(app):
    run_import(app, source_for(FIXTURE))
    run = list(app.db["runs"].rows)[-1]
    assert (run["job"], run["status"], run["fetched"], run["new"], run["errors"], run["detractors"]) == \
           ("import:test", "partial", 10, 3, 5, 2)


def test_item_to_row_is_pure_and_refuses_bad_sources(app):
    item = RawItem("export.jsonl:1", {"id": "1", "source": "X Twitter", "author": "a", "text": "Caffè Aurora",
                                      "created_at": "2026-11-20T10:00:00Z"})
    with pytest.raises(BadItem, match="short lower-case name"):
        item_to_row(item, Query("export.jsonl"), app.config.brands, "2026-11-23T09:00:00Z")


def test_database_file_is_wal_with_migrations_recorded(tmp_path):
    db = open_db(tmp_path / "a.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert [m["name"] for m in db["_sqlite_migrations"].rows][:2] == ["m001_mentions", "m002_alerts"]
    db.close()
    assert open_db(tmp_path / "a.db")["mentions"].count == 0  # reopening re-applies nothing


def test_a_stop_request_commits_the_chunk_in_hand_and_returns(app, tmp_path):
    export = tmp_path / "many.jsonl"
    export.write_text("".join(
        f'{{"id": "{i}", "source": "x", "author": "a", "text": "Caffè Aurora n. {i}", '
        f'"created_at": "2026-11-20T10:00:00Z"}}\n' for i in range(10)), encoding="utf-8")
    original = app.scorer.score

    def score_then_stop(texts):
        app.stopping.set()  # as if SIGTERM arrived while the first chunk was being scored
        return original(texts)

    app.scorer.score = score_then_stop
    counts = run_import(app, source_for(export), chunk_size=4)
    assert counts.new == 4 and app.db["mentions"].count == 4
    assert list(app.db["runs"].rows)[-1]["status"] == "interrupted"
    app.stopping.clear()
    app.scorer.score = original
    assert run_import(app, source_for(export), chunk_size=4).new == 6  # the rest, nothing twice
    assert app.db["mentions"].count == 10


def test_brand_keywords_match_whole_words_and_respect_exclusions(app):
    from listener.brands import match_brand

    brands = app.config.brands
    assert match_brand("Ho comprato da @CaffeAurora ieri", brands).name == "Caffè Aurora"
    assert match_brand("caffè aurora, sempre buono", brands).name == "Caffè Aurora"
    assert match_brand("Caffè Auroras are not a thing", brands) is None
    assert match_brand("aurora boreale e Caffè Aurora", brands) is None
    assert match_brand("a Lanificio Vento scarf", brands).name == "Lanificio Vento"


def test_language_guess_tells_italian_from_english():
    from listener.language import guess_language

    assert guess_language("Il pacco non è mai arrivato e nessuno risponde") == "it"
    assert guess_language("The parcel never arrived and nobody answers") == "en"
    assert guess_language("☕️ 👍") is None
