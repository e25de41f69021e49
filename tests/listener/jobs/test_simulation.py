"""The team loop, simulated on the product's own path (``ascolto eval --simulate-feedback``), with the
real offline model on real complaints to brands from ../shared/data (a training file: the held-out
evaluation files never enter a simulation)."""

import json
import sqlite3

import pytest

from helpers.paths import SHARED
from listener.jobs.simulation import Team, simulate

DATA = SHARED / "data" / "sentiment" / "complaints_english_train.jsonl"
pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not DATA.is_file(), reason="needs ../shared/data/sentiment/complaints_english_train.jsonl")]


def stream(path, count: int, skip: int) -> list[dict]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()][skip:skip + count]
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({"text": row["text"], "unhappy": row["complaint"], "lang": "en"}) + "\n")
    return rows


def test_a_simulated_team_labels_what_it_was_shown_and_the_nightly_retrain_runs(tmp_path):
    rows = stream(tmp_path / "stream.jsonl", 500, skip=1500)
    gold = {row["text"]: row["complaint"] for row in rows}
    later = {row["text"] for row in rows[300:]}
    heard = []
    result = simulate(None, tmp_path / "stream.jsonl", tmp_path, Team(people=2, budget=90), per_day=75,
                      report=heard.append)
    print("\n" + "\n".join(f"day {n.day}: {n.labelled} labelled, {n.retrain} {n.version}, precision {n.precision:.3f}"
                           f" recall {n.recall:.3f} {n.message}" for n in result.nights))
    assert (result.played, result.later) == (300, 200)
    assert result.unhappy_later == sum(gold[text] for text in later)
    assert heard == result.nights and [n.day for n in result.nights] == [0, 1, 2, 3, 4]
    assert result.nights[0].version.startswith("shipped:") and result.nights[0].retrain == "-"

    db = sqlite3.connect(tmp_path / "simulation.db")
    corrections = db.execute("select text, label, model_label, author from corrections").fetchall()
    # The team labels within its budget, honestly (the file's label), taking turns
    assert len(corrections) == result.nights[-1].labelled <= 90
    assert all(label == ("unhappy" if gold[text] else "other") for text, label, _, _ in corrections)
    assert {author for *_, author in corrections} == {"person1", "person2"}
    # It labelled what it was shown: every alert of the days it still had labels for
    alerted = {text for (text,) in db.execute("select text from mentions where alert_rule is not null")}
    shown_alerts = {text for text, _, model_label, _ in corrections if model_label == "unhappy"}
    assert shown_alerts <= alerted and shown_alerts
    # The measured part is never played: none of it is stored, none of it is labelled
    stored = {text for (text,) in db.execute("select text from mentions")}
    assert not stored & later and len(stored) == 300
    # With 200 mentions besides the labelled ones, and 30 texts labelled by two people, the retrain ran
    statuses = [n.retrain for n in result.nights[1:]]
    assert statuses[-1] in {"adopted", "refused"}, statuses
    assert db.execute("select count(*) from runs where job = 'model:retrain'").fetchone()[0] == 4


def test_the_command_prints_the_nights_and_leaves_no_database_behind(tmp_path, ascolto, monkeypatch):
    stream(tmp_path / "stream.jsonl", 40, skip=100)
    monkeypatch.chdir(tmp_path)
    result = ascolto(["eval", "--simulate-feedback", "10", "--per-day", "12", "--json", tmp_path / "stream.jsonl"])
    assert result.exit_code == 0, result.output
    [simulation] = json.loads(result.stdout)
    assert (simulation["played"], simulation["later"]) == (24, 16)
    assert [n["day"] for n in simulation["nights"]] == [0, 1, 2]
    assert simulation["nights"][-1]["labelled"] <= 10
    assert all(n["retrain"] == "skipped" for n in simulation["nights"][1:])  # too few mentions to learn from
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.jsonl"]


REVIEWS = SHARED / "data" / "sentiment" / "skytrax_english_train.jsonl"


@pytest.mark.skipif(not REVIEWS.is_file(), reason="needs ../shared/data/sentiment/skytrax_english_train.jsonl")
def test_a_stream_of_reviews_is_played_with_its_stars_and_judged_by_the_review_rule(tmp_path):
    from sentiment.runtime.detector import Detector
    from sentiment.runtime.loading import DEFAULT_HEAD

    rows = [json.loads(line) for line in REVIEWS.read_text(encoding="utf-8").splitlines() if line.strip()][:60]
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps({"text": r["text"], "label": r["label"], "lang": "en",
                                                                "rating": r["rating"]}) + "\n" for r in rows),
                                            encoding="utf-8")
    result = simulate(None, tmp_path / "reviews.jsonl", tmp_path, Team(budget=0), per_day=30)
    assert (result.played, result.later) == (36, 24)
    db = sqlite3.connect(tmp_path / "simulation.db")
    stored = db.execute("select rating, alert_rule, alert_threshold from mentions").fetchall()
    assert sorted(rating for rating, _, _ in stored) == sorted(r["rating"] for r in rows[:36])
    # 1-2 stars do not alert by themselves here: the text's rule is what is measured
    assert any(rating <= 2 for rating, _, _ in stored) and {rule for _, rule, _ in stored} <= {"detector", None}
    review = Detector.load(DEFAULT_HEAD).kinds["review"]
    assert {threshold for *_, threshold in stored if threshold is not None} == {review.thresholds["balanced"]["en"]}
