"""The model learns from the team, end to end on a tiny transformer built here: corrections in the
database, a retrain, a version adopted when it is better and refused when it is worse, the history
and a roll-back; the near-miss list; a broken version; alert figures in `ascolto eval`."""

import json

import pytest

from helpers.models import tiny_head_file
from listener.jobs.learning import run_near_misses, run_retrain
from listener.store.models import versions as history

UNHAPPY = ["bad", "awful", "hate", "pessimo"] + [f"{w}{s}" for s in (" it", " servizio", " the servizio", " it was")
                                                for w in ("bad", "awful", "hate", "pessimo", "not good")]
CONTENT = ["good", "great", "love", "ottimo"] + [f"{w}{s}" for s in (" it", " servizio", " the servizio", " it was")
                                                for w in ("good", "great", "love", "ottimo", "ok good")]


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny(make_app, tiny_encoder_dir, tmp_path):
    """An app scoring with the tiny encoder and a detector that knows nothing yet (P = 0.5 for all)."""
    head = tiny_head_file(tmp_path)
    val = jsonl(tmp_path / "val.jsonl", [{"text": t, "complaint": True} for t in UNHAPPY[:4]]
                + [{"text": t, "complaint": False} for t in CONTENT[:4]])
    extra = (f'[model]\nname = "{tiny_encoder_dir}"\nhead = "{head}"\n'
             f'[learning]\nmin_corrections = 8\ndetector_validation = ["en={val}"]\n')
    app = make_app(extra=extra, scorer=None)
    del app.scorer  # the real scorer, loaded from the config, not the keyword stand-in
    return app


def add_corrections(app, pairs, task="detector", hour=8):
    with app.db.atomic():
        for i, (text, label) in enumerate(pairs):
            app.db["mentions"].insert({"id": f"x:{text}", "source": "x", "native_id": text, "brand": "Caffè Aurora",
                                       "text": text, "lang": "en", "created_at": "2026-11-20T10:00:00Z",
                                       "collected_at": "2026-11-20T10:00:00Z", "nps_class": "passive"}, ignore=True)
            app.db["corrections"].insert({"kind": "mention", "subject_id": f"x:{text}", "text": text,
                                          "model_label": "other", "label": label, "author": "cm", "task": task,
                                          "created_at": f"2026-11-23T{hour:02d}:{i:02d}:00Z", "via": "link"})


def test_a_better_version_is_adopted_and_scores_from_then_on(tiny):
    assert run_retrain(tiny).status == "skipped"  # no corrections yet
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    result = run_retrain(tiny)
    assert result.status == "adopted" and result.version == "r1", result.message
    versions = {v.name: v for v in history(tiny.db)}
    assert versions["r1"].status == "active" and versions["shipped:tiny-head"].status == "kept"
    check = json.loads(versions["r1"].validation)[0]
    assert check["on"] == "val" and check["new"] > check["old"] == 0.5  # average precision, from chance
    scores = tiny.scorer.score(["awful", "great"])
    assert "r1.json" in tiny.scorer.name and scores[0].unhappy > scores[1].unhappy
    run = list(tiny.db.query("select status, message from runs where job = 'model:retrain' order by id"))[-1]
    assert run["status"] == "ok" and "version r1 adopted" in run["message"]


def test_a_worse_version_is_refused_and_the_active_one_kept(tiny):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    assert run_retrain(tiny).status == "adopted"
    flipped = [(t, "other") for t in UNHAPPY[:4] + UNHAPPY[4:]] + [(t, "unhappy") for t in CONTENT[:4] + CONTENT[4:]]
    add_corrections(tiny, flipped, hour=10)  # a wrong-headed batch, after r1, against the validation file
    result = run_retrain(tiny)
    assert result.status == "refused" and "worse on val" in result.message
    statuses = {v.name: v.status for v in history(tiny.db)}
    assert statuses == {"shipped:tiny-head": "kept", "r1": "active", "r2": "refused"}
    run = list(tiny.db.query("select status, message from runs where job = 'model:retrain' order by id"))[-1]
    assert run["status"] == "refused" and "keeping r1" in run["message"]


def test_history_and_roll_back_from_the_command_line(tiny, ascolto):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    run_retrain(tiny)
    config = str(tiny.config.path)
    listed = ascolto(["sentiment", "history", "--config", config])
    assert listed.exit_code == 0 and "r1" in listed.output and "active" in listed.output
    back = ascolto(["sentiment", "use", "shipped:tiny-head", "--config", config])
    assert back.exit_code == 0 and "shipped:tiny-head is active" in back.output
    unknown = ascolto(["sentiment", "use", "r9", "--config", config])
    assert unknown.exit_code == 1 and unknown.output.startswith("Error: no model version 'r9'; versions: ")


def test_a_broken_version_keeps_the_shipped_one_and_raises_one_notice(tiny):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    run_retrain(tiny)
    r1 = next(v for v in history(tiny.db) if v.name == "r1")
    open(r1.head_file, "w").write("{ not json")
    tiny.reload_scorer()
    assert "r1" not in tiny.scorer.name
    tiny.reload_scorer()
    tiny.scorer  # a second load: the notice is not queued twice
    notices = list(tiny.db.query("select subject from alerts where kind = 'notice'"))
    assert notices == [{"subject": "model:r1:broken"}]
    assert {v.name: v.status for v in history(tiny.db)}["r1"] == "broken"


def test_near_misses_are_listed_once_a_day_with_complaint_links(make_app, clock):
    app = make_app()
    rows = [("close", 0.35, 0.4), ("far", 0.05, 0.4), ("alerted", 0.9, 0.4), ("also close", 0.30, 0.4)]
    for i, (text, p, threshold) in enumerate(rows):
        app.db["mentions"].insert({"id": f"x:{i}", "source": "x", "native_id": str(i), "brand": "Caffè Aurora",
                                   "author": "a", "text": f"Caffè Aurora {text}", "created_at": "2026-11-23T08:00:00Z",
                                   "collected_at": "2026-11-23T08:30:00Z", "p_unhappy": p, "alert_threshold": threshold,
                                   "nps_class": "detractor" if p >= threshold else "passive"})
    assert run_near_misses(app) == 1 and run_near_misses(app) == 0
    details = json.loads(app.db.execute("select details from alerts where kind = 'near_misses'").fetchone()[0])
    assert [m["text"] for m in details["mentions"]] == ["Caffè Aurora close", "Caffè Aurora also close"]


def test_eval_reports_alert_precision_and_recall_per_preset(tiny, tmp_path, ascolto):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    run_retrain(tiny)
    complaints = jsonl(tmp_path / "c.jsonl", [{"text": t, "complaint": True} for t in UNHAPPY]
                       + [{"text": t, "complaint": False} for t in CONTENT])
    reviews = jsonl(tmp_path / "r.jsonl", [{"text": t, "label": "negative"} for t in UNHAPPY]
                    + [{"text": t, "label": "positive"} for t in CONTENT])
    result = ascolto(["eval", str(complaints), str(reviews), "--lang", "en", "--json",
                                      "--config", str(tiny.config.path)])
    assert result.exit_code == 0, result.output
    by_file = {r["name"]: r for r in json.loads(result.output)}
    assert by_file["c"]["sentiment"] is None and by_file["r"]["sentiment"]["binary"] is True
    alerts = {a["rule"]: a for a in by_file["c"]["alerts"]}
    assert set(alerts) == {"sensitive", "balanced", "strict"} and alerts["balanced"]["unhappy"] == len(UNHAPPY)
    assert 0 <= alerts["balanced"]["precision"] <= 1 and alerts["sensitive"]["recall"] >= alerts["strict"]["recall"]


def test_a_release_with_a_new_model_makes_it_active_and_keeps_the_old_ones(make_app, tmp_path):
    from listener.learning.versions import register_shipped
    from listener.store.models import active_version

    app = make_app(mailer=None)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    register_shipped(app.db, "shipped:old", old, "2026-11-01T00:00:00Z")
    register_shipped(app.db, "shipped:old", old, "2026-11-02T00:00:00Z")  # the same release again: nothing
    assert [v.name for v in history(app.db)] == ["shipped:old"]
    register_shipped(app.db, "shipped:new", new, "2026-11-25T00:00:00Z")
    assert active_version(app.db).name == "shipped:new"
    assert {v.name: v.status for v in history(app.db)} == {"shipped:old": "kept", "shipped:new": "active"}
