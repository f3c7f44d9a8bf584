"""The fast decoder's CPU path: token-for-token the same as HF generate with greedy decoding."""

from __future__ import annotations

import threading

import pytest

from codecustom.inference.backends.in_process import InProcessBackend
from codecustom.inference.fast import FastDecoder, fast_path_problem
from codecustom.inference.params import GenerationParams

PROMPTS = ["def add(a, b):\n    return", "import json\n\nclass Encoder(json.JSONEncoder):\n    def default(self, o):\n",
           "x", "for i in range(10):\n    print(i"]


def _ids(backend: InProcessBackend, prompts: list[str], params: GenerationParams) -> list[list[int]]:
    """Generated token ids through HF generate (the reference)."""
    import torch

    tok = backend.tokenizer
    rows = backend._encode(prompts, params)
    width = max(len(r) for r in rows)
    ids = torch.tensor([[backend.pad_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    with torch.inference_mode():
        out = backend.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=params.max_new_tokens,
                                     do_sample=False, pad_token_id=backend.pad_id, eos_token_id=backend.eos_ids,
                                     temperature=None, top_p=None, top_k=None)
    result = []
    for row in out[:, width:].tolist():
        cut = next((i for i, t in enumerate(row) if t in backend.eos_ids), len(row))
        result.append(row[:cut])
    assert tok is not None
    return result


@pytest.mark.parametrize("arch", ["gpt2", "gpt_neox", "llama", "qwen2", "starcoder2"])
def test_greedy_token_ids_match_hf_generate(loaded, arch):
    lm = loaded(arch)
    assert fast_path_problem(lm.model, "cpu") is None
    backend = InProcessBackend(lm, fast=False)
    params = GenerationParams(max_new_tokens=24)
    decoder = FastDecoder(lm.model, pad_id=backend.pad_id, eos_ids=backend.eos_ids)
    assert decoder.cuda_graphs is False  # CPU: the same step function, run eagerly
    rows = backend._encode(PROMPTS, params)
    fast = decoder.generate(rows, params)
    assert fast == _ids(backend, PROMPTS, params)
    # reusing the buffers for a different batch of prompts gives the same answers as fresh ones
    again = decoder.generate(rows[::-1], params)
    assert again == fast[::-1]


def test_backend_fast_true_uses_it_on_cpu_and_matches_text(loaded):
    lm = loaded("llama")
    fast, plain = InProcessBackend(lm, fast=True), InProcessBackend(lm, fast=False)
    assert fast.fast is not None and plain.fast is None
    assert InProcessBackend(lm).fast is None  # "auto" only takes the fast path on CUDA
    params = GenerationParams(max_new_tokens=20, num_samples=2)
    assert fast.generate(PROMPTS, params) == plain.generate(PROMPTS, params)


def test_end_of_sequence_is_respected(loaded):
    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=False)
    params = GenerationParams(max_new_tokens=12)
    rows = backend._encode(PROMPTS[:1], params)
    reference = FastDecoder(lm.model, pad_id=backend.pad_id, eos_ids=backend.eos_ids).generate(rows, params)[0]
    assert len(reference) == 12
    # declare the 4th generated token an end-of-sequence token: output stops right before it
    eos = reference[3]
    cut = FastDecoder(lm.model, pad_id=backend.pad_id, eos_ids=[eos]).generate(rows, params)[0]
    assert cut == reference[: reference.index(eos)]


def test_sampling_is_seeded(loaded):
    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=True)
    params = GenerationParams(max_new_tokens=10, temperature=1.0, top_p=0.9, num_samples=3, seed=3)
    first = backend.generate(PROMPTS[:2], params)
    assert first == backend.generate(PROMPTS[:2], params)
    assert len(set(first[0])) > 1
    assert backend.generate(PROMPTS[:2], params.with_(seed=4)) != first


def test_nucleus_of_one_token_is_greedy(loaded):
    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=True)
    greedy = backend.generate(PROMPTS[:2], GenerationParams(max_new_tokens=10))
    tiny_p = backend.generate(PROMPTS[:2], GenerationParams(max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=0))
    assert tiny_p == greedy


def test_text_stops_are_checked_on_the_host_every_few_steps(loaded):
    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=True)
    backend.fast.check_every = 4
    free = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=40))[0][0]
    stop = free[:2]
    out = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=40, stop=(stop,)))
    assert out[0][0] == free[: free.find(stop)]
    assert backend.fast.last_stats["steps"] <= 8  # decoding ended at the first check after the stop


def test_cancel_stops_decoding(loaded):
    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=True)
    event = threading.Event()
    calls = []

    def rule(text: str) -> int | None:
        calls.append(text)
        event.set()
        return None

    backend.fast.check_every = 2
    backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=100, stop_rule=rule), event)
    assert backend.fast.last_stats["steps"] <= 3


def test_unsupported_models_say_why(loaded):
    assert "encoder-decoder" in fast_path_problem(loaded("t5").model, "cpu")
    assert "CUDA" in fast_path_problem(loaded("llama").model, "cpu", require_cuda=True)


def test_decode_step_is_one_graph_without_host_syncs(loaded):
    """What CUDA graph capture needs, checked on CPU: dynamo traces the whole step with fullgraph=True
    (a host sync or a data-dependent branch in the step would break the trace), and the traced step
    computes the same token as the eager one."""
    import torch

    lm = loaded("llama")
    backend = InProcessBackend(lm, fast=False)
    decoder = FastDecoder(lm.model, pad_id=backend.pad_id, eos_ids=backend.eos_ids)
    rows = backend._encode(PROMPTS[:2], GenerationParams())
    width = max(len(r) for r in rows)
    for params in (GenerationParams(max_new_tokens=8), GenerationParams(max_new_tokens=8, temperature=0.7)):
        eager = decoder._state(2, 128, 8, params.greedy)
        with torch.inference_mode():
            decoder._prefill(eager, rows, width, params)
            decoder._step(eager)
            expected = eager.out[:, :2].clone()
            decoder._prefill(eager, rows, width, params)
            traced = torch.compile(decoder._step, fullgraph=True, backend="eager", dynamic=False)
            torch.manual_seed(0)
            traced(eager)
            if params.greedy:
                assert torch.equal(eager.out[:, :2], expected)
            assert int(eager.step) == 2 and int(eager.slot) == width + 1
