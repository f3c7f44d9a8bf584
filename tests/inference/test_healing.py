"""Token healing: which prompt tokens are re-chosen, the first-token constraint, and both decoding paths."""

from __future__ import annotations

import os

import pytest

from codecustom.inference.backends.in_process import InProcessBackend
from codecustom.inference.healing import TokenHealer, strip_tail
from codecustom.inference.params import GenerationParams

MID_WORD = ["from typing impo", "import o", "def main(", "class Foo(Bas", "x = [1, 2, 3]\ny = le"]


@pytest.fixture(scope="module")
def shipped():
    """The shipped default model (local files only)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from codecustom.modeling.loading import load_base

    return load_base(None, device="cpu")


def test_heal_takes_the_partial_word_off_and_every_allowed_token_spells_it(shipped):
    tok = shipped.tokenizer
    healer = TokenHealer(tok)
    for text in MID_WORD:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        healed = healer.heal(ids)
        assert healed.tail, text
        assert ids[: len(healed.ids)] == healed.ids and len(healed.ids) < len(ids)
        assert tok.decode(healed.ids) + healed.tail == text  # nothing lost, nothing added
        assert healed.tail.lstrip(" ") and not any(c.isspace() for c in healed.tail.lstrip(" "))
        allowed = healer.allowed_ids(healed.tail)
        assert allowed and all(healer.texts[i].startswith(healed.tail) for i in allowed)
    # ' imp' + 'o' are healed together: one vocabulary token covers ' impo...'
    ids = tok("from typing impo", add_special_tokens=False)["input_ids"]
    assert healer.heal(ids).tail == " impo"


def test_heal_leaves_special_token_endings_and_whole_whitespace_alone(shipped):
    tok = shipped.tokenizer
    healer = TokenHealer(tok)
    fim_end = tok.convert_tokens_to_ids("<fim_middle>")
    ids = tok("def f():\n", add_special_tokens=False)["input_ids"] + [fim_end]
    assert healer.heal(ids).ids == ids and healer.heal(ids).tail == ""
    newline = tok("x = 1\n", add_special_tokens=False)["input_ids"]
    assert healer.heal(newline).tail == ""  # a newline is never re-chosen
    assert healer.heal(newline[:1]).ids == newline[:1]  # a one-token prompt keeps its token


def test_first_token_mask_allows_only_tokens_that_spell_the_tail(shipped):
    healer = TokenHealer(shipped.tokenizer)
    mask = healer.first_token_mask([" impo", ""], len(healer.texts))
    assert mask[1].all()
    allowed = mask[0].nonzero().flatten().tolist()
    assert allowed == list(healer.allowed_ids(" impo"))
    assert all(healer.texts[i].startswith(" impo") for i in allowed)


def test_strip_tail():
    assert strip_tail(" import os", " impo") == "rt os"
    assert strip_tail("abc", "") == "abc"


def test_healed_completion_of_the_shipped_model_finishes_the_word(shipped):
    from codecustom.inference import CompletionEngine

    healed = CompletionEngine(InProcessBackend(shipped), shipped.tokenizer)
    plain = CompletionEngine(InProcessBackend(shipped), shipped.tokenizer, token_healing=False)
    got = healed.complete("from dataclasses i", "\n", language="python", multiline=False).text
    assert got.startswith("mport ")
    assert not plain.complete("from dataclasses i", "\n", language="python", multiline=False).text.startswith("mport")
    got = healed.complete("from typing impo", "\n", language="python", multiline=False).text
    assert got.startswith("rt ")


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_fast_path_and_hf_generate_heal_the_same_way(loaded, arch):
    lm = loaded(arch)
    fast, plain = InProcessBackend(lm, fast=True), InProcessBackend(lm, fast=False)
    assert fast.fast is not None
    params = GenerationParams(max_new_tokens=12, add_special_tokens=False, token_healing=True)
    got_fast, got_plain = fast.generate(MID_WORD, params), plain.generate(MID_WORD, params)
    assert got_fast == got_plain
    # the constraint held: each healed row's first token spells the removed text, which greedy
    # decoding of the random model would not have picked on its own for most rows
    rows = [plain._encode([p], params)[0] for p in MID_WORD]
    healed = [h for h in (plain.healer.heal(r) for r in rows) if h.tail]
    tails = [h.tail for h in healed]
    assert len(healed) >= 3
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    mask = plain.healer.first_token_mask(tails, vocab)
    first = [out[0] for out in fast.fast.generate([h.ids for h in healed], params, first_allowed=mask)]
    assert all(plain.healer.texts[t].startswith(tail) for t, tail in zip(first, tails))
    free = [out[0] for out in fast.fast.generate([h.ids for h in healed], params)]
    assert sum(not plain.healer.texts[t].startswith(tail) for t, tail in zip(free, tails)) >= 2
