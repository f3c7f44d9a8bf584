"""The in-process backend: batching with left padding, k samples, seeds, stops on the fly, cancellation."""

from __future__ import annotations

import threading

import pytest

from codecustom.errors import UsageError
from codecustom.inference.backends.in_process import InProcessBackend
from codecustom.inference.params import Backend, GenerationParams
from codecustom.inference.stopping import FirstNewline

PROMPTS = ["def add(a, b):\n    return", "import json\n\nclass Encoder(json.JSONEncoder):\n    def default(self, o):\n",
           "x"]


def test_is_a_backend(loaded):
    assert isinstance(InProcessBackend(loaded("llama"), fast=False), Backend)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen2"])
def test_batched_greedy_equals_one_by_one(loaded, arch):
    backend = InProcessBackend(loaded(arch), fast=False, batch_size=8)
    params = GenerationParams(max_new_tokens=12)
    batched = backend.generate(PROMPTS, params)
    alone = [backend.generate([p], params)[0] for p in PROMPTS]
    assert batched == alone
    assert all(len(samples) == 1 for samples in batched)
    assert any(s[0] for s in batched)  # a random model still writes something


def test_samples_are_seeded_and_per_prompt(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False)
    params = GenerationParams(max_new_tokens=10, temperature=1.0, num_samples=3, seed=7)
    first = backend.generate(PROMPTS[:2], params)
    assert first == backend.generate(PROMPTS[:2], params)
    assert [len(s) for s in first] == [3, 3]
    assert len({*first[0]}) > 1  # sampling at temperature 1 on a random model varies
    other = backend.generate(PROMPTS[:2], params.with_(seed=8))
    assert other != first


def test_greedy_samples_are_copies(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False)
    out = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=6, num_samples=4))
    assert len(out[0]) == 4 and len(set(out[0])) == 1


def test_small_batch_size_splits_work(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False, batch_size=1)
    params = GenerationParams(max_new_tokens=8)
    assert backend.generate(PROMPTS, params) == InProcessBackend(loaded("llama"), fast=False).generate(PROMPTS, params)


def test_stop_strings_and_rules_cut_and_end_decoding(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False)
    free = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=30))[0][0]
    assert len(free) > 3
    stop = free[2:4]
    cut = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=30, stop=(stop,)))[0][0]
    assert cut == free[: free.find(stop)]
    ruled = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=30, stop_rule=lambda t: 1 if len(t) > 1 else None))
    assert ruled[0][0] == free[:1]


def test_cancel_before_start_returns_empty(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False)
    event = threading.Event()
    event.set()
    assert backend.generate(PROMPTS, GenerationParams(max_new_tokens=5, num_samples=2), event) == [["", ""]] * 3


def test_cancel_mid_decoding_stops_promptly(loaded):
    backend = InProcessBackend(loaded("llama"), fast=False)
    event = threading.Event()
    params = GenerationParams(max_new_tokens=200, stop_rule=_SlowRule(event))
    out = backend.generate(PROMPTS[:1], params, event)
    assert len(out[0][0]) < 60  # stopped long before 200 tokens (counted in tokens, not seconds)


class _SlowRule:
    """Sets the cancel event after a few decode steps (what an editor does when the user types on)."""

    def __init__(self, event: threading.Event) -> None:
        self.event, self.calls = event, 0

    def __call__(self, text: str) -> int | None:
        self.calls += 1
        if self.calls == 5:
            self.event.set()
        return None


@pytest.mark.parametrize("arch", ["t5", "bart"])
def test_seq2seq_generation(loaded, arch):
    backend = InProcessBackend(loaded(arch))
    assert backend.fast is None  # encoder-decoder models use HF generate
    out = backend.generate(PROMPTS, GenerationParams(max_new_tokens=8, num_samples=2, temperature=0.7, seed=1))
    assert len(out) == 3 and all(len(s) == 2 for s in out)
    assert backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=8, stop_rule=FirstNewline()))[0][0].count("\n") == 0


def test_long_prompt_is_cut_to_the_model_window(loaded):
    backend = InProcessBackend(loaded("gpt2"), fast=False)  # 256 positions
    long_prompt = "x = 1\n" * 400
    out = backend.generate([long_prompt], GenerationParams(max_new_tokens=16))
    assert len(out[0]) == 1


def test_bad_arguments(loaded):
    backend = InProcessBackend(loaded("gpt2"), fast=False)
    with pytest.raises(UsageError, match="list of prompts"):
        backend.generate("one prompt", GenerationParams())
    with pytest.raises(UsageError, match="no room"):
        backend.generate(["x"], GenerationParams(max_new_tokens=400))
    with pytest.raises(UsageError, match="temperature"):
        GenerationParams(temperature=-1)
    with pytest.raises(UsageError, match="top_p"):
        GenerationParams(top_p=0)
    assert backend.generate([], GenerationParams()) == []
