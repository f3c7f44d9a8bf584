"""Padding-free batches for the tests task: used only where they are exact, checked on the real model."""

from __future__ import annotations

import copy
import math

import pytest
from transformers import DataCollatorWithFlattening

from codecustom.console import Console
from codecustom.data.tasks import TaskConfig, build_task_data, get_task
from codecustom.modeling.loading import load_base
from codecustom.modeling.strategies import STRATEGIES, StrategyOptions
from codecustom.training.config import TrainConfig
from codecustom.training.trainer import _flattening_is_exact, run_training
from tests.support.tiny import CAUSAL_ARCHS


def _data(loaded, dataset):
    tok = copy.deepcopy(loaded.tokenizer)
    return tok, build_task_data(dataset, "tests", tok, is_seq2seq=False, config=TaskConfig(max_length=128))


@pytest.mark.parametrize("arch_name", CAUSAL_ARCHS)
def test_position_id_packing_is_exact_and_leaks_are_caught(arch_model, dataset, arch_name):
    loaded = load_base(str(arch_model(arch_name)))
    loaded.model.config.use_cache = False  # as during training
    tok, data = _data(loaded, dataset)
    padded = get_task("tests").collator(tok, is_seq2seq=False)
    packed = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    leaky = DataCollatorWithFlattening(return_position_ids=False, separator_id=-100)  # no boundaries
    assert _flattening_is_exact(loaded.model, data.splits["train"], padded, packed)
    assert not _flattening_is_exact(loaded.model, data.splits["train"], padded, leaky)


def test_training_with_packing(arch_model, dataset, tmp_path):
    loaded = load_base(str(arch_model("qwen2")))
    tok, data = _data(loaded, dataset)
    model = STRATEGIES["lora"].prepare(copy.deepcopy(loaded.model), StrategyOptions(lora_r=2))
    result = run_training(model, data=data, tokenizer=tok, is_seq2seq=False, default_lr=1e-3,
                          config=TrainConfig(max_steps=3, eval_steps=3, packing=True), run_dir=tmp_path / "run",
                          console=Console(quiet=True))
    assert not any("padding-free" in n for n in result.notes)
    assert result.steps == 3 and math.isfinite(result.best_eval_loss)
