"""Operating points per kind of text: reviews get their own thresholds where their validation data
supports it (chosen as the posts' are: the highest that keeps each preset's recall), the alert rule
applies them to texts with stars, the gate and a retrain keep them, and a model file says them."""

import math

import numpy as np
import pytest

from listener.learning.gate import GateText, gate_checks
from listener.learning.retrain import Replay, TeamLabel, _calibrated, _refit_detector
from listener.rules import AlertRules
from sentiment.errors import BadDataset, ModelUnavailable
from sentiment.runtime.detector import MIN_KIND_UNHAPPY, PRESETS, Detector
from sentiment.runtime.heads import LinearHead
from sentiment.runtime.labels import UNHAPPY_LABELS
from sentiment.scoring import Score
from sentiment.training.calibration import fit_kind, threshold_for_recall
from sentiment.training.recipe import load_recipe


def detector(weight=None) -> Detector:
    """Calibration left as is (p = raw); posts alert from 0.24 in English and 0.82 in Italian at every preset."""
    head = LinearHead(np.zeros((2, 4)) if weight is None else np.asarray(weight, float), np.zeros(2),
                      labels=UNHAPPY_LABELS)
    return Detector(head, {"it": (1.0, 0.0), "en": (1.0, 0.0)},
                    {preset: {"it": 0.82, "en": 0.24} for preset in PRESETS})


def review_validation(unhappy: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw probabilities of whole reviews: the unhappy ones high, the pleased ones often well above
    0.24 too (a review names a flaw in passing)."""
    rng = np.random.default_rng(seed)
    raw = np.concatenate([rng.uniform(0.55, 0.99, unhappy), rng.uniform(0.05, 0.7, 3 * unhappy)])
    return raw, np.arange(len(raw)) < unhappy


def test_reviews_get_thresholds_chosen_on_review_data_where_it_holds_enough_unhappy_texts():
    english, italian = review_validation(60), review_validation(MIN_KIND_UNHAPPY - 1, seed=1)
    fitted = fit_kind(detector(), "review", {"en": english, "it": italian})
    for preset, recall in PRESETS.items():
        assert fitted.kinds["review"].thresholds[preset]["en"] == math.floor(threshold_for_recall(*english, recall) * 1e5) / 1e5
        assert fitted.kinds["review"].figures[preset]["en"]["recall"] >= recall
    assert "it" not in fitted.kinds["review"].thresholds["balanced"]  # 29 unhappy reviews: too few to choose on
    assert fitted.threshold("balanced", "it", kind="review") == 0.82  # so Italian reviews take the posts' rule
    assert fitted.threshold("balanced", "en", kind="review") > 0.5 > fitted.threshold("balanced", "en")
    assert fitted.thresholds == detector().thresholds  # the posts' rule is untouched
    again = Detector.from_dict(fitted.to_dict())  # and a model file keeps it all
    assert again.kinds == fitted.kinds


def test_a_rated_text_is_judged_as_a_review_and_a_low_rating_still_alerts():
    fitted = fit_kind(detector(), "review", {"en": review_validation(60)})
    review_threshold = fitted.threshold("balanced", "en", kind="review")
    rules = AlertRules(presets={"Lanificio Vento": "balanced"})
    score = Score("neutral", 0.5, 0.3, 0.5, 0.2, unhappy=0.45)  # "Lovely wool, the parcel was a day late"
    as_post = rules.classify("Lanificio Vento", "en", score, fitted)[1]
    as_review = rules.classify("Lanificio Vento", "en", score, fitted, rating=4)[1]
    assert as_post.alert and as_post.threshold == 0.24
    assert not as_review.alert and as_review.threshold == review_threshold
    assert rules.classify("Lanificio Vento", "en", score, fitted, rating=2)[1].rule == "rating"
    # a review in no detected language: the brand's language, and the reviews' rule in it
    rules_en = AlertRules(presets={"Lanificio Vento": "balanced"}, languages={"Lanificio Vento": "en"})
    assert rules_en.classify("Lanificio Vento", None, score, fitted, rating=4)[1].threshold == review_threshold


def test_the_gate_judges_its_reviews_as_reviews():
    fitted = fit_kind(detector([[0, 0, 0, 0], [1, 0, 0, 0]]), "review", {"en": review_validation(60)})
    x = np.array([[0.0, 0, 0, 0]] * 2)  # raw P(unhappy) 0.5: over the posts' 0.24, under the reviews' rule
    texts = [GateText("late parcel", True, "en", "post"), GateText("late parcel", True, "en", "review")]
    both = {c.preset: c for c in gate_checks(x[:1], (_sentiment(), fitted), (_sentiment(), fitted), texts[:1])}
    reviews = {c.preset: c for c in gate_checks(x[1:], (_sentiment(), fitted), (_sentiment(), fitted), texts[1:])}
    assert both["balanced"].new_recall == 1.0 and reviews["balanced"].new_recall == 0.0


def test_a_retrain_keeps_each_kinds_share_of_alerts():
    rng = np.random.default_rng(0)
    old = fit_kind(detector(rng.normal(size=(2, 4))), "review", {"en": review_validation(60)})
    new_head = LinearHead(rng.normal(size=(2, 4)), np.zeros(2), labels=UNHAPPY_LABELS)
    x = rng.normal(size=(300, 4))  # the brand's replayed mentions, all English reviews
    new = _calibrated(None, {"post": new_head}, old, (), replay(x, "review"), [], np.zeros((0, 4)))
    for preset in PRESETS:
        for table in ("thresholds", "kinds"):
            before = _alerted(old, x, preset, table)
            assert before == _alerted(new, x, preset, table), (preset, table)
    assert set(new.kinds) == {"review"} and new.kinds["review"].thresholds != old.kinds["review"].thresholds


def test_a_model_file_with_a_malformed_kind_is_refused_with_the_reason():
    doc = fit_kind(detector(), "review", {"en": review_validation(60)}).to_dict()
    with pytest.raises(ModelUnavailable, match="kind 'survey'"):
        Detector.from_dict({**doc, "kinds": {"survey": doc["kinds"]["review"]}})
    partial = {"thresholds": {"balanced": {"en": 0.5}}}
    with pytest.raises(ModelUnavailable, match="kind 'review' must cover presets"):
        Detector.from_dict({**doc, "kinds": {"review": partial}})


def test_a_recipe_names_each_kinds_validation_files(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[calibration]\nen = "c.jsonl"\n'
                      '[calibration.review]\nen = ["a.jsonl", "b.jsonl"]\nit = "c.jsonl"\n', encoding="utf-8")
    plan = load_recipe(recipe, tmp_path)
    assert plan.calibration == {"en": tmp_path / "c.jsonl"}
    assert plan.kind_calibration == {"review": {"en": [tmp_path / "a.jsonl", tmp_path / "b.jsonl"],
                                                "it": [tmp_path / "c.jsonl"]}}
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[calibration.survey]\nen = "a.jsonl"\n', encoding="utf-8")
    with pytest.raises(BadDataset, match="calibration.survey must be"):
        load_recipe(recipe, tmp_path)


def _sentiment() -> LinearHead:
    return LinearHead(np.zeros((3, 4)), np.zeros(3))


def _alerted(found: Detector, x: np.ndarray, preset: str, table: str) -> int:
    from sentiment.runtime.detector import raw_probability

    threshold = found.kinds["review"].thresholds if table == "kinds" else found.thresholds
    threshold = threshold[preset]["en"]
    return int(sum(found.probability(raw, "en") >= threshold for raw in raw_probability(found.head, x)))


def test_an_evaluation_row_is_a_review_when_it_says_so_or_has_stars(tmp_path):
    from sentiment.evaluation.files import read_evaluation

    path = tmp_path / "e.jsonl"
    path.write_text('{"text": "a", "unhappy": true}\n{"text": "b", "unhappy": false, "rating": 4}\n'
                    '{"text": "c", "label": "negative", "kind": "review"}\n', encoding="utf-8")
    assert read_evaluation(path).kinds == ["post", "review", "review"]
    path.write_text('{"text": "a", "unhappy": true, "kind": "survey"}\n', encoding="utf-8")
    with pytest.raises(BadDataset, match="e.jsonl:1: .*kind must be one of post, review"):
        read_evaluation(path)


# A kind's own head: one more linear layer on the same embedding, for reviews.

def review_corpus(n: int, seed: int) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Texts whose embedding's dimension 1 says whether the reviewer is unhappy, and dimension 0 (what
    the posts' head reads) says it only weakly: a review names a flaw in passing."""
    rng = np.random.default_rng(seed)
    gold = np.arange(n) < n // 3
    x = rng.normal(size=(n, 4))
    x[:, 1] += np.where(gold, 2.5, -2.5)
    x[:, 0] += np.where(gold, 0.3, -0.3)
    texts = [f"review {seed}-{i}" for i in range(n)]
    return texts, gold, dict(zip(texts, x))


def with_review_head():
    from sentiment.training.calibration import fit_kind_head
    from sentiment.training.datasets import LabelledTexts

    train_texts, train_gold, train_x = review_corpus(600, seed=1)
    val_texts, val_gold, val_x = review_corpus(240, seed=2)
    vectors = {**train_x, **val_x}
    posts = detector([[0, 0, 0, 0], [3, 0, 0, 0]])
    val_labels = ["unhappy" if unhappy else "other" for unhappy in val_gold]
    fitted = fit_kind_head(posts, "review", (train_texts, train_gold, np.ones(len(train_texts)), ["reviews_train"]),
                           {"en": [LabelledTexts("reviews_val", val_texts, val_labels)]},
                           lambda texts: np.asarray([vectors[t] for t in texts]))
    return posts, fitted, (np.asarray([val_x[t] for t in val_texts]), val_gold)


def test_a_review_head_is_trained_on_review_files_and_thresholded_on_review_validation():
    from sentiment.runtime.detector import raw_by_kind

    posts, fitted, (x, gold) = with_review_head()
    rule = fitted.kinds["review"]
    assert rule.head is not None and set(rule.calibration) == {"en"} and rule.languages == {"en"}
    info = rule.head.info
    assert info["train"] == ["reviews_train"] and info["validation"] == ["reviews_val"]
    assert info["average_precision"]["en"] > 0.95 > info["posts_head_average_precision"]["en"]
    raws = raw_by_kind(fitted, x)
    assert set(raws) == {"post", "review"} and np.allclose(raws["post"], raw_by_kind(posts, x)["post"])
    for preset, recall in PRESETS.items():  # each preset keeps its recall, on the review head's probabilities
        calibrated = [fitted.probability({"post": p, "review": r}, "en", "review")
                      for p, r in zip(raws["post"], raws["review"])]
        flagged = np.asarray(calibrated) >= rule.thresholds[preset]["en"]
        assert (flagged & gold).sum() / gold.sum() >= recall
        assert rule.figures[preset]["en"]["recall"] >= recall
    assert fitted.thresholds == posts.thresholds and fitted.calibration == posts.calibration  # posts untouched
    assert Detector.from_dict(fitted.to_dict()).to_dict() == fitted.to_dict()  # a model file keeps the head


def test_a_review_is_judged_by_the_review_head_and_a_post_by_the_posts_head():
    from listener.rules import judge
    from sentiment.runtime.scorers import scores_from

    _, fitted, _ = with_review_head()
    # "The room was clean; the staff ignored us for two days": unhappy to the review head, not to the posts'
    x = np.array([[-1.0, 3.0, 0.0, 0.0]])
    score = scores_from(x, _sentiment(), fitted)[0]
    assert dict(score.kind_unhappy)["review"] > 0.9 and score.unhappy < 0.5
    as_review = judge(score, "en", fitted, "balanced", 0.6, rating=4, kind="review")
    as_post = judge(score, "en", fitted, "balanced", 0.6, kind="post")
    assert as_review.alert and as_review.threshold == fitted.kinds["review"].thresholds["balanced"]["en"]
    assert not as_post.alert and as_post.threshold == 0.24
    # a score that lacks the review head's probability (a scorer that does not compute it) is judged as a post
    bare = Score("neutral", 0.5, 0.3, 0.5, 0.2, unhappy=score.unhappy)
    assert judge(bare, "en", fitted, "balanced", 0.6, rating=4, kind="review").threshold == 0.24
    # Italian has no review rule: an Italian review is judged by the posts' head and Italian threshold
    assert judge(score, "it", fitted, "balanced", 0.6, rating=4, kind="review").threshold == 0.82


def replay(x: np.ndarray, kind: str) -> Replay:
    return Replay(x, np.asarray(["en"] * len(x), dtype=object), np.asarray([kind] * len(x)))


def test_corrections_of_posts_leave_the_review_head_and_its_rule_as_they_were():
    _, fitted, (x, _) = with_review_head()
    posts = [TeamLabel("detector", f"post {i}", "other", "en", "anna") for i in range(30)]
    vectors = dict(zip([c.text for c in posts], np.random.default_rng(3).normal(size=(30, 4))))
    heads = _refit_detector(_Embedder(vectors), fitted, posts, [], replay(x, "review"))
    assert heads["review"] is fitted.kinds["review"].head and heads["post"] is not fitted.head
    new = _calibrated(None, heads, fitted, (), replay(x, "review"), [], np.zeros((0, 4)))
    assert new.kinds["review"].to_dict() == fitted.kinds["review"].to_dict()
    assert new.head is heads["post"]


def test_the_teams_review_corrections_retrain_the_review_head_and_its_alert_share_holds():
    _, fitted, (x, _) = with_review_head()
    # The brand's reviews that the review head hears as unhappy but the team says are not: "the parcel
    # came a day late, lovely wool" (dimension 2 carries the brand's own words for it).
    rng = np.random.default_rng(4)
    wool = rng.normal(size=(40, 4)) * 0.3 + [0, 1.5, 3, 0]
    corrections = [TeamLabel("detector", f"wool {i}", "other", "en", f"person{i % 2}", kind="review")
                   for i in range(40)]
    vectors = dict(zip([c.text for c in corrections], wool))
    heads = _refit_detector(_Embedder(vectors), fitted, corrections, [], replay(x, "review"))
    old_head = fitted.kinds["review"].head
    assert heads["review"] is not old_head
    assert raw_of(heads["review"], wool).mean() < raw_of(old_head, wool).mean() - 0.2  # the brand's words learned
    new = _calibrated(None, heads, fitted, (), replay(x, "review"), [], np.zeros((0, 4)))
    for preset in PRESETS:  # as many of the brand's reviews alert as before: clicks move which, not how many
        before = [fitted.is_unhappy(r, "en", preset, "review") for r in raw_rows(fitted, x)]
        after = [new.is_unhappy(r, "en", preset, "review") for r in raw_rows(new, x)]
        assert sum(before) == sum(after)
    assert Detector.from_dict(new.to_dict()).kinds["review"].head.info["retrained_on"] == 40


class _Embedder:
    def __init__(self, vectors):
        self.vectors = vectors

    def embed(self, texts):
        return np.asarray([self.vectors[t] for t in texts])


def raw_of(head: LinearHead, x: np.ndarray) -> np.ndarray:
    from sentiment.runtime.detector import raw_probability

    return raw_probability(head, x)


def raw_rows(found: Detector, x: np.ndarray) -> list[dict]:
    from sentiment.runtime.detector import raw_by_kind

    raws = raw_by_kind(found, x)
    return [{kind: float(raw[i]) for kind, raw in raws.items()} for i in range(len(x))]


def test_the_gate_judges_reviews_with_the_review_head():
    _, fitted, (x, gold) = with_review_head()
    texts = [GateText("r", bool(g), "en", "review") for g in gold]
    as_posts = [GateText("r", bool(g), "en", "post") for g in gold]
    reviews = {c.preset: c for c in gate_checks(x, (_sentiment(), fitted), (_sentiment(), fitted), texts)}
    posts = {c.preset: c for c in gate_checks(x, (_sentiment(), fitted), (_sentiment(), fitted), as_posts)}
    assert reviews["strict"].new_precision > posts["strict"].new_precision + 0.1


def test_a_model_file_with_a_malformed_kind_head_is_refused():
    doc = with_review_head()[1].to_dict()
    review = doc["kinds"]["review"]
    with pytest.raises(ModelUnavailable, match="calibrated in each of its languages"):
        Detector.from_dict({**doc, "kinds": {"review": {**review, "calibration": {}}}})
    with pytest.raises(ModelUnavailable, match="labelled"):
        Detector.from_dict({**doc, "kinds": {"review": {**review, "head": {**review["head"], "labels": ["a", "b"]}}}})
    narrow = {**review["head"], "weight": [row[:3] for row in review["head"]["weight"]]}  # another encoder's
    with pytest.raises(ModelUnavailable, match="4-number embedding"):
        Detector.from_dict({**doc, "kinds": {"review": {**review, "head": narrow}}})


def test_a_recipe_names_a_kinds_training_files(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[calibration.review]\nen = "v.jsonl"\n'
                      '[heads.review]\ntrain = ["a.jsonl", "b.jsonl"]\n', encoding="utf-8")
    assert load_recipe(recipe, tmp_path).kind_train == {"review": [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]}
    recipe.write_text('[[tasks]]\nname = "sentiment"\n[heads.review]\ntrain = ["a.jsonl"]\n', encoding="utf-8")
    with pytest.raises(BadDataset, match=r"heads.review must name .*\[calibration.review\]"):
        load_recipe(recipe, tmp_path)
