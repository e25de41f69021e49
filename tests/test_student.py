"""The layer-cut student: its adapter stacks the teacher's and its own, and builds a shallower folder."""

import shutil

import pytest
import torch

from helpers.models import blank_scorer
from sentiment.finetune import adapted_folder, adapter_arrays, adapter_blocks, attach, merge, save_adapter, truncate
from sentiment.student import stack


def trained_adapter(scorer, seed: int, rank: int = 4, alpha: float = 8):
    """LoRA adapters with random B, as if trained, read back as numpy."""
    layers = attach(scorer.encoder, rank=rank, alpha=alpha)
    torch.manual_seed(seed)
    for layer in layers.values():
        layer.lora_b.data.normal_(0, 0.1)
    return adapter_arrays(layers)


def hidden(scorer, texts=("good", "it was awful")):
    inputs = scorer.tokenizer(list(texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        return scorer.encoder(**inputs).last_hidden_state


def test_stacked_adapters_equal_the_teacher_then_the_student_merged_in_turn(tiny_encoder_dir):
    teacher = trained_adapter(blank_scorer(tiny_encoder_dir), seed=0, rank=4, alpha=8)  # scale 2
    cut = blank_scorer(tiny_encoder_dir)
    truncate(cut.encoder, 1)
    student = trained_adapter(cut, seed=1, rank=2, alpha=1)  # scale 0.5, block 0 only

    in_turn = blank_scorer(tiny_encoder_dir)
    truncate(in_turn.encoder, 1)
    merge(in_turn.encoder, {k: v for k, v in teacher.items() if k.startswith("encoder.layer.0.")}, 2.0)
    merge(in_turn.encoder, student, 0.5)
    stacked = stack((teacher, 2.0), (student, 0.5))
    at_once = blank_scorer(tiny_encoder_dir)
    truncate(at_once.encoder, 1)
    merge(at_once.encoder, stacked, 1.0)

    assert set(stacked) == set(student)  # block 1 of the teacher is gone with the block
    assert stacked["encoder.layer.0.intermediate.dense.lora_a"].shape[0] == 4 + 2  # ranks add up
    assert torch.allclose(hidden(in_turn), hidden(at_once), atol=1e-5)
    assert not torch.allclose(hidden(in_turn), hidden(blank_scorer(tiny_encoder_dir)), atol=1e-3)


def test_an_adapter_that_records_its_blocks_builds_a_folder_cut_to_them(tiny_encoder_dir, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_encoder_dir, base)
    cut = blank_scorer(base)
    truncate(cut.encoder, 1)
    adapter = trained_adapter(cut, seed=2)
    save_adapter(tmp_path / "student.safetensors", adapter, 2.0, blocks=1)
    save_adapter(tmp_path / "full.safetensors", adapter, 2.0)

    folder = adapted_folder(base, tmp_path / "student.safetensors")

    assert adapter_blocks(tmp_path / "student.safetensors") == 1
    assert adapter_blocks(tmp_path / "full.safetensors") is None
    built = blank_scorer(folder)
    assert built.encoder.config.num_hidden_layers == 1 and len(built.encoder.encoder.layer) == 1
    expected = blank_scorer(base)
    truncate(expected.encoder, 1)
    merge(expected.encoder, adapter, 2.0)
    assert torch.allclose(hidden(built), hidden(expected), atol=1e-2)  # adapters travel in float16


def test_truncate_refuses_a_block_count_the_model_does_not_have(tiny_encoder_dir):
    scorer = blank_scorer(tiny_encoder_dir)
    with pytest.raises(ValueError, match="between 1 and 2"):
        truncate(scorer.encoder, 3)
    with pytest.raises(ValueError, match="between 1 and 2"):
        truncate(scorer.encoder, 0)
