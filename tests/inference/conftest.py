"""Fixtures for the inference tests: loaded tiny models and a tiny model that memorized some completions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models decode fastest single-threaded, and CI machines are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def loaded(tiny_model):
    """``loaded(arch)``: a LoadedModel of the tiny ``arch`` model (cached for the session)."""
    from codecustom.modeling.loading import load_base

    cache: dict[str, object] = {}

    def get(arch: str):
        if arch not in cache:
            cache[arch] = load_base(str(tiny_model(arch)), device="cpu")
        return cache[arch]

    return get


def train_memorizer(out_dir: Path, samples: Sequence[tuple[str, str]], *, steps: int = 300, seed: int = 0) -> Path:
    """A small Llama trained until it reproduces ``completion`` after each ``prompt`` (then end-of-text).

    Saved like any model folder, so it loads through ``load_base`` exactly as users' models do.
    """
    import torch
    import transformers as tf

    from tests.support.tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    config = tf.LlamaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                            intermediate_size=128, max_position_embeddings=512, vocab_size=len(tok),
                            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                            bos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = tf.LlamaForCausalLM(config)
    rows, labels = [], []
    for prompt, completion in samples:
        p = tok(prompt)["input_ids"]
        c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    lab = torch.tensor([r + [-100] * (width - len(r)) for r in labels])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    target = lab[:, 1:]
    for _ in range(steps):
        out = model(input_ids=ids, attention_mask=mask, labels=lab)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        # teacher-forced argmax right everywhere => greedy decoding reproduces every completion;
        # the loss bound leaves a margin so float differences (GGUF, batching) cannot flip a token
        right = (out.logits[:, :-1].argmax(-1) == target)[target != -100].all()
        if bool(right) and out.loss.item() < 0.05:
            break
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def memorized_dir(tmp_path_factory) -> Path:
    """Folder of a model that memorized ``tests.inference.memorized`` (trained once per session)."""
    from tests.inference import memorized
    from tests.support.tiny import tiny_tokenizer

    return train_memorizer(tmp_path_factory.mktemp("memorized"), memorized.samples(tiny_tokenizer()))


@pytest.fixture(scope="session")
def memorized_model(memorized_dir):
    """The memorizing model, loaded (CPU)."""
    from codecustom.modeling.loading import load_base

    return load_base(str(memorized_dir), device="cpu")
