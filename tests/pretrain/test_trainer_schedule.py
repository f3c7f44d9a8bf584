"""The learning-rate schedule that anneals to a time budget."""

from __future__ import annotations

import pytest

from codecustom.training.pretrain.sizes import SIZES, get_size
from codecustom.training.pretrain.trainer import BudgetCosine
from codecustom.errors import UsageError


def test_step_schedule_warmup_then_cosine() -> None:
    sched = BudgetCosine(warmup_steps=10, max_steps=110, budget_s=None, min_ratio=0.1, clock=lambda: 0.0)
    assert sched(0) == pytest.approx(0.1) and sched(9) == pytest.approx(1.0)
    assert sched(10) == pytest.approx(1.0)
    assert sched(60) == pytest.approx(0.55)
    assert sched(110) == pytest.approx(0.1) and sched(500) == pytest.approx(0.1)


def test_time_budget_drives_the_cosine() -> None:
    now = {"t": 0.0}
    sched = BudgetCosine(warmup_steps=2, max_steps=1_000_000, budget_s=100.0, min_ratio=0.1, clock=lambda: now["t"])
    now["t"] = 50.0
    assert sched(20) == pytest.approx(0.55)  # half the time gone: half-way down, whatever the step
    now["t"] = 100.0
    assert sched(21) == pytest.approx(0.1)


def test_sizes_registry() -> None:
    tiny = SIZES["tiny"]
    assert tiny.parameter_count() * 2 < 20_000_000  # bf16 bytes stay under the 20 MB budget
    assert 90e6 < SIZES["base"].parameter_count() < 150e6
    config = tiny.llama_config(tiny.vocab_size, pad_token_id=1, eos_token_id=0)
    assert config.model_type == "llama" and config._attn_implementation == "sdpa" and config.tie_word_embeddings
    with pytest.raises(UsageError, match="unknown model size"):
        get_size("huge")
