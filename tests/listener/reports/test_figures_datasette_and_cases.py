"""Datasette canned queries, the NPS report, the weekly digest and follow-up cases on a known database."""

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.clock import Clock
from helpers.paths import REPO
from listener.cases import CaseError, add_note, assign, move
from listener.jobs.digest import queue_digest
from listener.kernel.times import utc_now
from listener.reports.datasette import metadata_for
from listener.reports.figures import Period, brand_report
from listener.store.cases import list_cases
from surveys.nps import nps

BRAND = "Caffè Aurora"
REPORTS = '[reports]\nrecipients = ["marketing@example.com"]\n'


def at(days_ago: float, clock) -> str:
    return (clock() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def app(make_app, clock):
    return known_app(make_app, clock)


@pytest.fixture
def app_dated_now(make_app):
    """The same rows dated back from the real time: Datasette's canned queries count from SQLite's
    'now' (what a marketer means by "the last 7 days"), so their rows must be recent whatever the day."""
    return known_app(make_app, Clock(utc_now().replace(microsecond=0)))


def known_app(make_app, clock):
    application = make_app(extra=REPORTS, mailer=None, now=clock)
    db = application.db
    responses = []
    # This period (28 days): 20 promoters, 10 passives, 10 detractors -> NPS +25.
    # The one before: 9 promoters, 9 passives, 12 detractors -> NPS -10.
    for period_start, counts in ((0, (20, 10, 10)), (28, (9, 9, 12))):
        for cls, score, count in zip(("promoter", "passive", "detractor"), (10, 7, 3), counts):
            for i in range(count):
                comment = "consegna in ritardo, pacco rotto" if cls == "detractor" and i % 2 else (
                    "consegna lenta" if cls == "detractor" else "ottimo")
                responses.append({"brand": BRAND, "score": score, "nps_class": cls, "comment": comment,
                                  "channel": "import", "external_id": f"t:{period_start}:{cls}:{i}",
                                  "answered_at": at(period_start + 1 + i % 20, clock)})
    db["survey_responses"].insert_all(responses)
    mentions = [{"id": f"x:{i}", "source": "x", "native_id": str(i), "brand": BRAND, "author": f"u{i}",
                 "text": f"testo {i}", "created_at": at(i % 5 + 0.5, clock), "collected_at": at(0, clock),
                 "sentiment": ("negative", "neutral", "positive")[i % 3], "sentiment_score": 0.9,
                 "p_negative": 0.9 if i % 3 == 0 else 0.05, "p_neutral": 0.05, "p_positive": 0.05,
                 "model": "m", "nps_class": ("detractor", "passive", "promoter")[i % 3], "raw": "{}"}
                for i in range(12)]
    db["mentions"].insert_all(mentions)
    for i, due in enumerate((-10, -1, 30)):  # two overdue, one not
        db["cases"].insert({"kind": "mention", "subject_id": f"x:{i * 3}", "brand": BRAND, "status": "open",
                            "due_at": at(-due, clock) if due > 0 else at(-due, clock), "created_at": at(12 - i, clock)})
    return application


def query(app, name, **params):
    from datasette.app import Datasette

    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    datasette = Datasette([str(app.config.database)], metadata=metadata)
    db_name = Path(app.config.database).stem
    args = "&".join(f"{k}={v}" for k, v in params.items())
    response = asyncio.run(datasette.client.get(f"/{db_name}/{name}.json?_shape=array&{args}"))
    assert response.status_code == 200, response.text
    return response.json()


def test_metadata_describes_every_table_and_column(app):
    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    tables = metadata["databases"][Path(app.config.database).stem]["tables"]
    for table in ("mentions", "survey_responses", "cases", "alerts", "survey_invitations", "customers", "runs"):
        assert tables[table]["title"] and tables[table]["description"]
    described = set(tables["mentions"]["columns"])
    assert described == {c.name for c in app.db["mentions"].columns}


def test_the_metadata_names_only_columns_that_exist(app):
    """A facet, sort or column description on a column a migration dropped makes the page answer 400."""
    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    tables = metadata["databases"][Path(app.config.database).stem]["tables"]
    for table, meta in tables.items():
        assert table in app.db.table_names() + app.db.view_names(), f"{table} is described but does not exist"
        columns = {c.name for c in app.db[table].columns}
        named = set(meta.get("facets", [])) | set(meta.get("columns", {})) | {
            meta[key] for key in ("sort", "sort_desc") if key in meta}
        assert named <= columns, f"{table}: no such column {sorted(named - columns)}"


def test_every_table_and_query_page_opens(app):
    """Every page a marketer can reach from the database page, HTML and JSON, as Datasette serves it."""
    from datasette.app import Datasette

    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    datasette = Datasette([str(app.config.database)], metadata=metadata)
    name = Path(app.config.database).stem
    described = metadata["databases"][name]
    pages = [f"/{name}/{table}" for table, meta in described["tables"].items() if not meta.get("hidden")]
    pages += [f"/{name}/{query}" for query in described["queries"]]
    assert len(pages) > 20
    for page in pages:
        for suffix in ("", ".json"):
            response = asyncio.run(datasette.client.get(page + suffix))
            assert response.status_code == 200, f"{page}{suffix}: {response.status_code} {response.text[:300]}"


def test_the_database_page_links_every_question_and_search_takes_word_starts(app):
    from datasette.app import Datasette

    metadata = metadata_for(app.config.database, REPO / "config" / "datasette.yaml")
    datasette = Datasette([str(app.config.database)], metadata=metadata)
    name = Path(app.config.database).stem
    page = asyncio.run(datasette.client.get(f"/{name}")).text
    for query in metadata["databases"][name]["queries"]:
        assert f'href="/{name}/{query}"' in page
    canned = asyncio.run(datasette.client.get(f"/{name}/nps_by_week")).text
    assert "_show_sql=1\">show</a>" in canned and "<textarea" not in canned  # the SQL folded away
    app.db["mentions"].insert({"id": "x:r", "source": "x", "native_id": "r", "brand": BRAND, "author": "ada",
                               "text": "Il rimborso non è mai arrivato", "created_at": "2026-11-22T10:00:00Z",
                               "collected_at": "2026-11-22T10:00:00Z",
                               "raw": "{}"})
    found = asyncio.run(datasette.client.get(f"/{name}/mentions.json?_search=rimbors*&_shape=array")).json()
    assert [row["id"] for row in found] == ["x:r"]
    readable = asyncio.run(datasette.client.get(f"/{name}/readable_mentions.json?_shape=array&_size=1")).json()
    assert list(readable[0])[:2] == ["text", "brand"] and "raw" not in readable[0]
    waiting = asyncio.run(datasette.client.get(f"/{name}/open_cases_readable.json?_shape=array")).json()
    assert {row["who"] for row in waiting} == {"u0", "u3", "u6"} and all(row["text"] for row in waiting)


def test_nps_by_week_matches_the_python_arithmetic(app):
    rows = query(app, "nps_by_week")
    assert sum(r["responses"] for r in rows) == 70
    for row in rows:
        expected = nps(row["promoters"], row["passives"], row["detractors"])
        assert row["nps"] == pytest.approx(expected.score, abs=0.05)
        assert row["nps_low"] == pytest.approx(expected.low, abs=0.06)
        assert row["nps_high"] == pytest.approx(expected.high, abs=0.06)


def test_other_canned_queries_return_the_expected_rows(app_dated_now):
    app = app_dated_now
    days = query(app, "mentions_per_day")
    assert sum(r["total"] for r in days) == 12 and sum(r["negative"] for r in days) == 4
    negative = query(app, "most_negative_mentions")  # the last 7 days: every mention (0.5 to 4.5 days old)
    assert [r["p_negative"] for r in negative[:4]] == [0.9] * 4 and len(negative) == 12
    assert len(query(app, "most_negative_mentions", days="2")) == 6  # those 0.5 and 1.5 days old
    cases = query(app, "open_cases_by_age")
    assert [c["subject_id"] for c in cases] == ["x:0", "x:3", "x:6"]  # oldest first
    assert [c["overdue"] for c in cases] == [1, 1, 0] and [c["age_days"] for c in cases] == [12.0, 11.0, 10.0]
    comments = query(app, "detractor_comments")
    assert len(comments) == 22 and {c["score"] for c in comments} == {3}
    assert query(app, "response_rate") == []  # imported replies have no invitations


def test_report_figures_on_the_known_fixture(app, clock):
    report = brand_report(app.db, BRAND, Period(clock() - timedelta(days=28), clock()))
    s, p = report.survey, report.previous_survey
    assert (s.promoters, s.passives, s.detractors, s.score) == (20, 10, 10, 25.0)
    assert (p.promoters, p.passives, p.detractors, p.score) == (9, 9, 12, -10.0)
    # By hand (adjusted Wald): se 12.42 now, 14.07 before; the difference +35 has se 18.77, and
    # 1.96 x 18.77 = 36.8 > 35: a big move, still not significant at 95%.
    assert s.standard_error == pytest.approx(12.42, abs=0.02) and p.standard_error == pytest.approx(14.07, abs=0.02)
    assert report.change.delta == 35 and not report.change.significant
    assert report.change.low == pytest.approx(-1.8, abs=0.1)
    assert report.small_sample is False
    assert (report.mentions, report.negative_mentions) == (12, 4)
    assert report.top_detractor_words == [("consegna", 10), ("lenta", 5), ("pacco", 5), ("ritardo", 5), ("rotto", 5)]


def test_report_command_prints_and_writes_html_with_charts(app, tmp_path, ascolto):
    page = tmp_path / "report.html"
    result = ascolto(["report", "--config", str(app.config.path), "--brand", BRAND, "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "NPS +25 (95% CI" in result.output and "not significant at 95%" in result.output
    html = page.read_text()
    assert html.count("<svg") == 3 and "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_case_transitions_notes_and_overdue(app, clock):
    now = at(0, clock)
    overdue = list_cases(app.db, overdue_at=now)
    assert [c.case.subject_id for c in overdue] == ["x:0", "x:3"] and overdue[0].text == "testo 0"
    assign(app.db, 1, "giulia", now)
    add_note(app.db, 1, "Chiamata, richiamare domani", "giulia", now)
    add_note(app.db, 1, "Rimborso fatto", "giulia", now)
    assert move(app.db, 1, "contacted", now).status == "contacted"
    case = move(app.db, 1, "resolved", now)
    assert case.status == "resolved" and case.owner == "giulia"
    assert case.notes.splitlines() == ["[2026-11-23T09:00:00Z] giulia: Chiamata, richiamare domani",
                                          "[2026-11-23T09:00:00Z] giulia: Rimborso fatto"]
    with pytest.raises(CaseError, match="case #1 is resolved: it can move to nothing"):
        move(app.db, 1, "contacted", now)
    with pytest.raises(CaseError, match="closed cases are not reassigned"):
        assign(app.db, 1, "marco", now)
    with pytest.raises(CaseError, match="can move to contacted, dismissed, lost, resolved, not open"):
        move(app.db, 2, "open", now)
    assert move(app.db, 2, "lost", now).status == "lost"
    assert [c.case.id for c in list_cases(app.db, overdue_at=now)] == []


def test_cases_cli_lists_overdue_and_refuses_bad_moves_in_one_line(app, ascolto):
    listed = ascolto(["cases", "list", "--overdue", "--config", str(app.config.path)])
    assert listed.output.count("OVERDUE") == 2
    ascolto(["cases", "close", "1", "--config", str(app.config.path)])
    again = ascolto(["cases", "contacted", "1", "--config", str(app.config.path)])
    assert again.exit_code == 1 and again.output.strip() == "Error: case #1 is resolved: it can move to nothing (it is closed), not contacted"


def test_cases_cli_shows_who_and_what_in_local_time_and_one_case_whole(app, ascolto):
    config = ["--config", str(app.config.path)]
    listed = ascolto(["cases", "list", "--brand", "caffè aurora", *config])
    assert listed.exit_code == 0, listed.output
    first = listed.output.splitlines()[0]  # due 2026-11-13T09:00Z: 10:00 in Rome
    assert first.startswith("#1 open      due 13/11/2026 10:00  OVERDUE  Caffè Aurora  u0: \"testo 0\"")
    unknown = ascolto(["cases", "list", "--brand", "Caffe Aurora", *config])
    assert unknown.exit_code == 1 and "no brand named 'Caffe Aurora'; the brands are 'Caffè Aurora'" in unknown.output
    ascolto(["cases", "note", "1", "Chiamata fatta", "--by", "giulia", *config])
    assert ascolto(["cases", "close", "1", "--status", "dismissed", *config]).exit_code == 0
    shown = ascolto(["cases", "show", "1", *config]).output
    assert "#1 dismissed" in shown and "mention x:0: testo 0" in shown and "giulia: Chiamata fatta" in shown
    assert "history:\n  23/11/2026 10:00  giulia  note: Chiamata fatta\n  23/11/2026 10:00  -  dismissed" in shown
    assert ascolto(["cases", "list", "--status", "dismissed", *config]).output.count("\n") == 1


def test_sentiment_corrections_are_stored_beside_the_model_label(app, ascolto):
    result = ascolto(["sentiment", "correct", "mention", "x:1", "negative", "--by", "giulia",
                                      "--config", str(app.config.path)])
    assert result.exit_code == 0 and "model said neutral, corrected to negative" in result.output
    row = app.db.execute("select kind, subject_id, text, model_label, label, author from corrections").fetchone()
    assert row == ("mention", "x:1", "testo 1", "neutral", "negative", "giulia")
    assert app.db["mentions"].get("x:1")["sentiment"] == "neutral"  # the model's output is kept as it was


def test_weekly_digest_is_queued_once_with_charts_and_overdue_cases(app):
    assert queue_digest(app) is True and queue_digest(app) is False
    alert = app.db.execute("select kind, subject, details, id from alerts").fetchone()
    details = json.loads(alert[2])
    assert (alert[0], alert[1]) == ("digest", "digest:2026-W48")
    targets = app.db.execute("select channel, target from deliveries where alert_id = ?", [alert[3]]).fetchall()
    assert targets == [("reports", "marketing@example.com")]  # marketers, not the community managers
    assert "Overdue cases:\n#1 Caffè Aurora mention x:0" in details["body"]
    assert details["html"].count("<svg") == 3


def test_weeks_are_iso_weeks_in_the_report_and_in_datasette(make_app):
    """2 November 2026 is a Monday of ISO week 45 (SQLite's %W says 44); 1 January 2027 is in 2026-W53."""
    from listener.store.reports import weekly_class_counts

    app = make_app(mailer=None)
    for i, day in enumerate(("2026-11-02T08:00:00Z", "2026-11-08T22:00:00Z", "2027-01-01T10:00:00Z")):
        app.db["survey_responses"].insert({"brand": BRAND, "score": 10, "nps_class": "promoter", "channel": "import",
                                           "external_id": f"w:{i}", "answered_at": day})
    weeks = [w for w, *_ in weekly_class_counts(app.db, BRAND, "2026-10-01T00:00:00Z", "2027-02-01T00:00:00Z")]
    assert weeks == ["2026-W45", "2026-W53"]
    assert [(r["week"], r["responses"]) for r in query(app, "nps_by_week")] == [("2026-W45", 2), ("2026-W53", 1)]
