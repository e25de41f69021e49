"""The scorers on tiny transformers built inside the test: fast, and every code path real."""

import numpy as np
import pytest

from sentiment.errors import BadLabels, ModelUnavailable
from sentiment.runtime.labels import LABELS
from sentiment.runtime.loading import ModelSettings, blank_encoder, encoder_scorer, load_scorer
from sentiment.runtime.scorers import ClassifierScorer
from sentiment.training.heads import fit_head

LABEL_MAP = {"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"}
TEXTS = ["good", "it was not good at all the the the the it it it", "awful", "the servizio was ottimo ok",
         "hate it", "love"]


def test_classifier_with_label_n_names_needs_the_map(tiny_classifier_dir):
    with pytest.raises(BadLabels, match="label_map"):
        ClassifierScorer(str(tiny_classifier_dir))


def test_classifier_scores_are_probabilities_in_input_order(tiny_classifier_dir):
    scorer = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP, batch_size=4)
    scores = scorer.score(TEXTS)
    assert len(scores) == len(TEXTS)
    for s in scores:
        assert s.negative + s.neutral + s.positive == pytest.approx(1.0, abs=1e-5)
        assert s.label in LABELS and s.confidence == max(s.probabilities.values())


def test_sorted_dynamic_padding_gives_the_same_scores_as_one_text_at_a_time(tiny_classifier_dir):
    batched = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP, batch_size=3).score(TEXTS)
    single = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP, batch_size=1).score(TEXTS)
    for a, b in zip(batched, single):
        assert a.label == b.label
        assert np.allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-5)


def test_label_map_reorders_columns(tiny_classifier_dir):
    plain = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP).score(["good"])[0]
    swapped = ClassifierScorer(str(tiny_classifier_dir), label_map={**LABEL_MAP, "LABEL_0": "positive",
                                                                    "LABEL_2": "negative"}).score(["good"])[0]
    assert swapped.positive == pytest.approx(plain.negative) and swapped.negative == pytest.approx(plain.positive)


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_blank_text_is_neutral_without_calling_the_model(tiny_classifier_dir, blank):
    scorer = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP)
    scores = scorer.score([blank, "good"])
    assert scores[0].label == "neutral" and scores[0].neutral == 1.0
    assert scores[1].negative + scores[1].neutral + scores[1].positive == pytest.approx(1.0, abs=1e-5)


def test_long_text_is_truncated_not_an_error(tiny_classifier_dir):
    scorer = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP, max_length=16)
    assert len(scorer.tokens.encode(["good " * 500])[0]) == 16
    assert scorer.score(["good " * 500])[0].label in LABELS


def test_load_scorer_reads_a_local_folder(tiny_classifier_dir):
    scorer = load_scorer(ModelSettings(name=str(tiny_classifier_dir), label_map=LABEL_MAP))
    assert scorer.name == str(tiny_classifier_dir)


def test_missing_model_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ModelUnavailable, match="cannot load model"):
        load_scorer(ModelSettings(name=str(tmp_path / "nowhere")))


def test_encoder_head_learns_a_separable_toy_task(tiny_encoder_dir, tmp_path):
    """Train a head on the tiny encoder's embeddings, save, reload, and score through the scorer."""
    encoder = blank_encoder(tiny_encoder_dir, prefix="")
    texts = ["awful", "hate", "bad", "ok", "the", "it", "good", "great", "love"] * 4
    labels = np.repeat([[0, 0, 0, 1, 1, 1, 2, 2, 2]], 4, axis=0).reshape(-1)
    head = fit_head(encoder.embed(texts), labels, l2=1e-6)
    head.info["prefix"] = ""
    head.save(tmp_path / "head.json")
    scorer = encoder_scorer(tiny_encoder_dir, tmp_path / "head.json", "tiny")
    assert [s.label for s in scorer.score(["awful", "the", "love"])] == ["negative", "neutral", "positive"]
    embeddings = encoder.embed(["good", "it was good"])
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_a_classifier_embeds_too_and_both_keep_the_scoring_protocol(tiny_classifier_dir, tiny_encoder_dir):
    """Every backend satisfies ``Scorer``: a hub classifier's embedding is its last layer's mean, so
    themes work with it too; it has no detector and no heads to retrain."""
    from sentiment.runtime.encoders import Encoder
    from sentiment.scoring import Scorer

    classifier = ClassifierScorer(str(tiny_classifier_dir), label_map=LABEL_MAP)
    encoder = blank_encoder(tiny_encoder_dir, prefix="")
    assert isinstance(encoder.encoder, Encoder)
    for scorer in (classifier, encoder):
        assert isinstance(scorer, Scorer)
        vectors = scorer.embed(["good", "awful"])
        assert vectors.shape == (2, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    scored = classifier.score(["good", ""])
    assert np.allclose(scored[0].embedding, classifier.embed(["good"])[0], atol=1e-5) and scored[1].embedding is None
    assert classifier.detector is None and classifier.heads is None
