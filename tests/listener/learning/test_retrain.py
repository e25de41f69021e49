"""The model learns from the team, end to end on a tiny transformer built here: corrections in the
database, a retrain, a version adopted when it is better and refused when it is worse, the history
and a roll-back; the near-miss list; a broken version; alert figures in `ascolto eval`."""

import json
from datetime import timedelta

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


# The shipped gate set is real Italian and English, which the tiny encoder cannot read: these tests put
# one in its words in its place (the real one is checked with the real model in test_learning_gate).
GATE_UNHAPPY = ["bad is", "awful is", "hate is", "pessimo is", "bad was", "awful was", "hate was", "pessimo was"]
GATE_CONTENT = ["good is", "great is", "love is", "ottimo is", "good was", "great was", "love was", "ottimo was"]


@pytest.fixture
def tiny(make_app, tiny_encoder_dir, tmp_path, monkeypatch):
    """An app scoring with the tiny encoder and a detector that knows nothing yet (P = 0.5 for all)."""
    from listener.learning import gate, retrain

    # A head that knows nothing may move freely: the real model's anchor and replay (test_learning_gate)
    # would hold it at chance.
    monkeypatch.setattr(retrain, "ANCHOR_L2", 1e-3)
    monkeypatch.setattr(retrain, "REPLAY_WEIGHT", 0.1)
    monkeypatch.setattr(gate, "SHIPPED", [jsonl(tmp_path / "gate.jsonl", [
        {"text": t, "unhappy": u, "lang": lang, "kind": "post"} for lang in ("en", "it")
        for u, texts in ((True, GATE_UNHAPPY), (False, GATE_CONTENT)) for t in texts])])
    head = tiny_head_file(tmp_path)
    val = jsonl(tmp_path / "val.jsonl", [{"text": t, "complaint": True} for t in UNHAPPY[:4]]
                + [{"text": t, "complaint": False} for t in CONTENT[:4]])
    extra = (f'[model]\nname = "{tiny_encoder_dir}"\nhead = "{head}"\n'
             f'[learning]\nmin_corrections = 8\ndetector_validation = ["en={val}"]\n')
    app = make_app(extra=extra, scorer=None)
    del app.scorer  # the real scorer, loaded from the config, not the keyword stand-in
    words = ["good", "great", "love", "bad", "awful", "hate", "ok", "the", "it", "ottimo", "pessimo", "servizio"]
    earlier = [f"{a} {b} {c}" for a in words for b in words[6:] for c in ("is", "was", "not")][:240]
    app.db["mentions"].insert_all({"id": f"x:m{i}", "source": "x", "native_id": f"m{i}", "brand": "Caffè Aurora",
                                   "text": text, "lang": "en", "created_at": "2026-11-19T10:00:00Z",
                                   "collected_at": "2026-11-19T10:00:00Z"} for i, text in enumerate(earlier))
    return app  # with a brand's earlier mentions: what a retrain must keep doing


def add_corrections(app, pairs, task="detector", hour=8, author="cm", rating=None):
    with app.db.atomic():
        for i, (text, label) in enumerate(pairs):
            app.db["mentions"].insert({"id": f"x:{text}", "source": "x", "native_id": text, "brand": "Caffè Aurora",
                                       "text": text, "lang": "en", "created_at": "2026-11-20T10:00:00Z",
                                       "collected_at": "2026-11-20T10:00:00Z", "nps_class": "passive",
                                       "rating": rating}, ignore=True)
            app.db["corrections"].insert({"kind": "mention", "subject_id": f"x:{text}", "text": text,
                                          "model_label": "other", "label": label, "author": author, "task": task,
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
    announced = json.loads(tiny.db.execute("select details from alerts where subject = 'model:r1:model_adopted'"
                                           ).fetchone()[0])
    assert announced["notice"] == "model_adopted" and announced["params"]["previous"] == "shipped:tiny-head"
    assert "gate set en balanced recall 1.00 -> 1.00" in announced["params"]["figures"]


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
    notices = list(tiny.db.query("select subject from alerts where kind = 'notice' order by id"))
    assert notices == [{"subject": "model:r1:model_adopted"}, {"subject": "model:r1:broken"}]
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


def attack(words=("bad", "awful", "hate", "pessimo"), tails=("it", "servizio", "is", "was", "the", "ok")):
    """Distinct complaints in the tiny encoder's words: every one a real complaint."""
    return [f"{w} {a} {b}" for w in words for a in tails for b in tails if a != b]


def test_one_persons_not_a_complaint_clicks_cannot_silence_the_detector(tiny):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:8]], author="anna", hour=9)  # a team of two
    assert run_retrain(tiny).status == "adopted"
    texts = attack()
    add_corrections(tiny, [(t, "other") for t in texts], author="mallory", hour=10)  # each alert: "not a complaint"
    result = run_retrain(tiny, force=True)  # forced: mallory alone is one person of two
    assert result.status == "refused", result.message
    assert {v.name: v.status for v in history(tiny.db)}["r1"] == "active"
    assert heard(tiny, "bad it") and heard(tiny, "awful servizio")  # still alerts at the brand's preset


def heard(app, text: str) -> bool:
    from listener.rules import DEFAULT_CONFIDENCE, judge

    return judge(app.scorer.score([text])[0], "en", app.scorer.detector, "balanced", DEFAULT_CONFIDENCE).alert


def test_a_retrain_waits_for_distinct_texts_and_for_a_second_person(tiny):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:8]] * 20)  # 80 clicks on 4 texts
    skipped = run_retrain(tiny)
    assert skipped.status == "skipped" and skipped.message.startswith("4 newly corrected texts from 1 person")
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[8:]] + [(t, "other") for t in CONTENT[4:]], author="anna")
    assert run_retrain(tiny).status == "adopted"  # 36 texts; two people
    add_corrections(tiny, [(t, "other") for t in CONTENT[:4]] + [(t, "unhappy") for t in UNHAPPY[:4]] * 3,
                    author="cm", hour=11)
    waiting = run_retrain(tiny)
    assert waiting.status == "skipped" and "from 1 person" in waiting.message and "from 2 people" in waiting.message


def test_the_team_label_of_a_text_is_the_majority_of_people_and_one_person_weighs_a_capped_share():
    from listener.learning.retrain import team_labels
    from listener.store.models import Correction

    def row(i, text, label, author):
        return Correction(i, "detector", "mention", f"x:{i}", text, label, "unhappy", author, "link",
                          f"2026-11-23T08:{i:02d}:00Z", "it")

    rows = [row(1, "a", "other", "mallory"), row(2, "a", "other", "mallory"), row(3, "a", "unhappy", "anna"),
            row(4, "a", "unhappy", "bruno"), row(5, "b", "unhappy", "anna"), row(6, "b", "other", "mallory")]
    rows += [row(10 + i, f"t{i}", "other", "mallory") for i in range(40)]
    labels = {r.text: r for r in team_labels(rows, max_texts_per_person=10)["detector"]}
    assert labels["a"].label == "unhappy"  # two people against one, however often that one clicked
    assert labels["b"].label == "other" and labels["b"].author == "mallory"  # a tie: the latest word
    assert labels["t0"].weight == pytest.approx(10 / 41)  # mallory decided 41 texts: together they weigh 10
    review = Correction(99, "detector", "mention", "x:99", "r", "other", "unhappy", "anna", "link",
                        "2026-11-23T09:00:00Z", "it", rating=4)
    assert team_labels([review], 10)["detector"][0].kind == "review"  # stars: the review head learns from it
    assert labels["a"].kind == "post"
    assert labels["a"].weight == 1.0


def test_alerts_falling_after_an_adoption_raise_one_notice(tiny, clock):
    from listener.learning.watch import watch_adoption

    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:8]], author="anna", hour=9)
    assert run_retrain(tiny).status == "adopted"
    adopted = clock()

    def mentions(start, days, per_day, alerted):
        rows = []
        for d in range(days):
            for i in range(per_day):
                at = (start + timedelta(days=d, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
                rows.append({"id": f"x:{at}", "source": "x", "native_id": at, "brand": "Caffè Aurora", "text": "t",
                             "created_at": at, "collected_at": at, "alert_rule": "detector",
                             "nps_class": "detractor" if i < alerted else "passive"})
        tiny.db["mentions"].insert_all(rows)

    mentions(adopted - timedelta(days=10), 10, 20, 2)  # 10% of mentions alerted before
    mentions(adopted + timedelta(minutes=1), 3, 40, 0)  # none after
    assert watch_adoption(tiny) is False  # too soon: a day says little
    clock.advance(days=3)
    assert watch_adoption(tiny) is True and watch_adoption(tiny) is False  # once
    told = json.loads(tiny.db.execute("select details from alerts where subject = 'model:r1:alerts_quieter'"
                                      ).fetchone()[0])["params"]
    corrected = tiny.db.execute("select count(*) from mentions where alert_rule is null").fetchone()[0]
    assert told["before"] == f"{20 / (200 + corrected):.1%}"  # 2 of 20 a day, and the earlier mentions
    assert (told["after"], told["previous"]) == ("0.0%", "shipped:tiny-head")


def test_calibrate_gives_a_model_review_thresholds_chosen_on_the_recipes_files(tiny, tmp_path, ascolto):
    import math

    import numpy as np

    from sentiment.runtime.detector import PRESETS, Detector
    from sentiment.runtime.loading import ModelSettings, load_scorer
    from sentiment.training.calibration import threshold_for_recall

    (tmp_path / "h").mkdir()
    head = tiny_head_file(tmp_path / "h", np.random.default_rng(7).normal(size=(2, 16)) * -8)
    unhappy, pleased = UNHAPPY + GATE_UNHAPPY, CONTENT + GATE_CONTENT  # 32 unhappy reviews: enough to choose on
    jsonl(tmp_path / "reviews.jsonl", [{"text": t, "label": "negative", "rating": 1} for t in unhappy]
          + [{"text": t, "label": "positive", "rating": 5} for t in pleased])
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[calibration.review]\nen = "reviews.jsonl"\n', encoding="utf-8")
    result = ascolto(["sentiment", "calibrate", "--recipe", str(recipe), "--data", str(tmp_path), "--model", str(head),
                      "--config", str(tiny.config.path)])
    assert result.exit_code == 0, result.output
    assert "review balanced: en precision" in result.output
    detector = Detector.load(head)
    scorer = load_scorer(ModelSettings(name=tiny.config.model.name, head=head))
    raw = np.asarray([s.unhappy for s in scorer.score(unhappy + pleased)])  # calibrated as is: p = raw
    gold = np.arange(len(raw)) < len(unhappy)
    for preset, recall in PRESETS.items():
        assert detector.kinds["review"].thresholds[preset] == {"en": math.floor(threshold_for_recall(raw, gold, recall) * 1e5) / 1e5}
    assert detector.thresholds == {p: {"it": 0.5, "en": 0.5} for p in PRESETS}  # the posts' rule is untouched


def test_calibrate_trains_a_review_head_that_the_scorer_runs_and_the_alert_rule_applies(tiny, tmp_path, ascolto):
    import numpy as np

    from listener.rules import judge
    from sentiment.runtime.detector import PRESETS, Detector
    from sentiment.runtime.loading import ModelSettings, load_scorer

    (tmp_path / "h").mkdir()
    # a posts' head that hears nothing (every text p = 0.5): the review head must learn from the files
    head = tiny_head_file(tmp_path / "h", np.zeros((2, 16)))
    unhappy, pleased = UNHAPPY + GATE_UNHAPPY, CONTENT + GATE_CONTENT
    jsonl(tmp_path / "reviews_val.jsonl", [{"text": t, "label": "negative", "rating": 1} for t in unhappy]
          + [{"text": t, "label": "positive", "rating": 5} for t in pleased])
    jsonl(tmp_path / "reviews_train.jsonl", [{"text": f"{t} {end}", "label": label}
                                             for end in ("really", "truly", "so")
                                             for texts, label in ((unhappy, "negative"), (pleased, "positive"))
                                             for t in texts])
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[calibration.review]\nen = "reviews_val.jsonl"\n'
                      '[heads.review]\ntrain = ["reviews_train.jsonl"]\n', encoding="utf-8")
    result = ascolto(["sentiment", "calibrate", "--recipe", str(recipe), "--data", str(tmp_path), "--model", str(head),
                      "--config", str(tiny.config.path)])
    assert result.exit_code == 0, result.output
    rule = Detector.load(head).kinds["review"]
    assert rule.head is not None and rule.head.info["train"] == ["reviews_train"]
    assert rule.head.info["average_precision"]["en"] > rule.head.info["posts_head_average_precision"]["en"]
    scorer = load_scorer(ModelSettings(name=tiny.config.model.name, head=head))
    scores = scorer.score(unhappy + pleased)
    assert all(dict(s.kind_unhappy).keys() == {"review"} for s in scores)
    gold = np.arange(len(scores)) < len(unhappy)
    for preset, recall in PRESETS.items():  # the thresholds keep each preset's recall, as the product judges
        flagged = np.asarray([judge(s, "en", scorer.detector, preset, 0.6, rating=4, kind="review").alert
                              for s in scores])
        assert (flagged & gold).sum() >= recall * gold.sum()
    as_posts = [judge(s, "en", scorer.detector, "balanced", 0.6).alert for s in scores]
    assert all(as_posts)  # p = 0.5 everywhere over the posts' 0.5: the posts' rule is untouched


def test_the_teams_clicks_on_reviews_retrain_the_review_head(tiny):
    import numpy as np

    from sentiment.runtime.detector import PRESETS, Detector, KindRule
    from sentiment.runtime.heads import LinearHead, read_model_file
    from sentiment.runtime.labels import UNHAPPY_LABELS
    from sentiment.runtime.model_file import Heads

    # The tiny model gets a review head that knows nothing yet (P = 0.5 for every review)
    path = tiny.config.model.head
    detector = Detector.from_dict(read_model_file(path)["detector"])
    blank = LinearHead(np.zeros((2, 16), "float32"), np.zeros(2, "float32"), {}, UNHAPPY_LABELS)
    detector.kinds["review"] = KindRule({p: {"en": 0.5} for p in PRESETS}, {}, blank, {"en": (1.0, 0.0)})
    Heads(LinearHead.load(path), detector).save(path)
    tiny.reload_scorer()
    with tiny.db.atomic():  # the brand's reviews: what the review head must keep doing
        for i, text in enumerate(["ok the is", "ok it was", "the it not"] * 20):
            tiny.db["mentions"].insert({"id": f"g:r{i}", "source": "google_reviews", "native_id": f"r{i}",
                                        "brand": "Caffè Aurora", "text": f"{text} {i}", "lang": "en", "rating": 4,
                                        "created_at": "2026-11-19T10:00:00Z", "collected_at": "2026-11-19T11:00:00Z"})
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]], rating=3)
    result = run_retrain(tiny)
    assert result.status == "adopted", result.message
    adopted = Detector.load(tiny.active_head_file)
    review = adopted.kinds["review"]
    # every correction is of a review (stars): the review head learns from each the posts' head learns from
    assert 0 < review.head.info["retrained_on"] == adopted.head.info["retrained_on"] <= 40
    scores = tiny.scorer.score(["awful it", "great it"])
    assert dict(scores[0].kind_unhappy)["review"] > dict(scores[1].kind_unhappy)["review"]


def test_a_version_may_not_walk_away_from_the_shipped_models_recall_a_tolerance_at_a_time():
    import numpy as np

    from listener.learning.gate import RECALL_TOLERANCE, GateText, gate_checks
    from sentiment.runtime.detector import PRESETS, Detector
    from sentiment.runtime.heads import LinearHead
    from sentiment.runtime.labels import UNHAPPY_LABELS

    # 25 unhappy gate texts whose raw P(unhappy) rises from 0.55 to 0.95, and 25 pleased ones at 0.05
    raw = np.concatenate([np.linspace(0.55, 0.95, 25), np.full(25, 0.05)])
    x = np.log(raw / (1 - raw))[:, None]  # the detector's logit is x itself
    texts = [GateText(f"t{i}", i < 25, "en", "post") for i in range(50)]
    sentiment = LinearHead(np.zeros((3, 1)), np.zeros(3))

    def version(missed: int):  # a version whose threshold misses the ``missed`` least unhappy texts
        threshold = float(raw[missed]) if missed else 0.5
        head = LinearHead(np.asarray([[0.0], [1.0]]), np.zeros(2), labels=UNHAPPY_LABELS)
        return sentiment, Detector(head, {"en": (1.0, 0.0)}, {p: {"en": threshold} for p in PRESETS})

    shipped, active, new = version(0), version(1), version(2)  # recall 1.00, 0.96, 0.92
    assert not any(c.failed for c in gate_checks(x, active, new, texts))  # one step: within the tolerance
    walked = [c.failed for c in gate_checks(x, shipped, new, texts, against="shipped") if c.failed]
    assert 1.0 - 0.92 > RECALL_TOLERANCE and walked
    assert walked[0] == "sensitive recall (en) 1.00 -> 0.92 (against the shipped model)"


def test_a_retrain_after_an_adoption_is_also_checked_against_the_shipped_model(tiny):
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[4:]] + [(t, "other") for t in CONTENT[4:]])
    assert run_retrain(tiny).status == "adopted"  # r1: against the shipped model only (it is the active one)
    first = json.loads({v.name: v for v in history(tiny.db)}["r1"].validation)
    assert not any("vs shipped" in row["on"] for row in first)
    add_corrections(tiny, [(t, "unhappy") for t in UNHAPPY[:4]] + [(t, "other") for t in CONTENT[:4]], hour=10)
    run_retrain(tiny)
    second = json.loads({v.name: v for v in history(tiny.db)}["r2"].validation)
    assert {row["on"] for row in second} >= {"gate set en balanced vs shipped", "gate set it strict vs shipped"}
