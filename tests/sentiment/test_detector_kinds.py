"""Operating points per kind of text: reviews get their own thresholds where their validation data
supports it (chosen as the posts' are: the highest that keeps each preset's recall), the alert rule
applies them to texts with stars, the gate and a retrain keep them, and a model file says them."""

import numpy as np
import pytest

from listener.learning.gate import GateText, gate_checks
from listener.learning.retrain import _calibrated
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
        assert fitted.kind_thresholds["review"][preset]["en"] == round(threshold_for_recall(*english, recall), 5)
        assert fitted.kind_figures["review"][preset]["en"]["recall"] >= recall
    assert "it" not in fitted.kind_thresholds["review"]["balanced"]  # 29 unhappy reviews: too few to choose on
    assert fitted.threshold("balanced", "it", kind="review") == 0.82  # so Italian reviews take the posts' rule
    assert fitted.threshold("balanced", "en", kind="review") > 0.5 > fitted.threshold("balanced", "en")
    assert fitted.thresholds == detector().thresholds  # the posts' rule is untouched
    again = Detector.from_dict(fitted.to_dict())  # and a model file keeps it all
    assert again.kind_thresholds == fitted.kind_thresholds and again.kind_figures == fitted.kind_figures


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
    x = rng.normal(size=(300, 4))  # the brand's replayed mentions, all English
    new = _calibrated(None, new_head, old, (), x, ["en"] * 300, [], np.zeros((0, 4)))
    for preset in PRESETS:
        for table in ("thresholds", "kind_thresholds"):
            before = _alerted(old, x, preset, table)
            assert before == _alerted(new, x, preset, table), (preset, table)
    assert set(new.kind_thresholds) == {"review"} and new.kind_thresholds["review"] != old.kind_thresholds["review"]


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

    threshold = getattr(found, table)
    threshold = threshold["review"][preset]["en"] if table == "kind_thresholds" else threshold[preset]["en"]
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
