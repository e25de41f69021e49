import pytest

from sentiment.errors import BadLabels
from sentiment.runtime.batching import run_in_sorted_batches, sorted_batches
from sentiment.runtime.labels import map_model_labels, normalise_label


def test_capitalised_and_short_names_map_to_ours():
    assert map_model_labels({0: "Negative", 1: "NEU", 2: "positive"}) == ["negative", "neutral", "positive"]
    assert normalise_label("negativo") == "negative"


def test_label_n_names_need_a_configured_map():
    with pytest.raises(BadLabels, match="LABEL_0.*label_map"):
        map_model_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    mapping = {"LABEL_0": "positive", "LABEL_1": "negative", "LABEL_2": "neutral"}
    assert map_model_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, mapping) == ["positive", "negative", "neutral"]


def test_two_labels_mapped_to_one_are_refused():
    with pytest.raises(BadLabels, match="repeated"):
        map_model_labels({0: "negative", 1: "neg"})


def test_batches_are_sorted_longest_first_and_cover_every_index():
    batches = sorted_batches([3, 9, 1, 7, 5], batch_size=2)
    assert batches == [[1, 3], [4, 0], [2]]


def test_results_come_back_in_input_order():
    encodings = [[1] * n for n in (3, 9, 1, 7, 5)]
    seen_batches = []

    def run(batch):
        seen_batches.append([len(e) for e in batch])
        return [len(e) * 10 for e in batch]

    assert run_in_sorted_batches(encodings, 2, run) == [30, 90, 10, 70, 50]
    assert seen_batches == [[9, 7], [5, 3], [1]]
