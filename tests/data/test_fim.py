"""FIM format detection, prompts and the training-time transformation."""

from __future__ import annotations

import random

import pytest

from codecustom.data import tokenizer as ours
from codecustom.data.fim import FimFormat, random_fim_split
from tests.support.tiny import tiny_tokenizer


def _tokenizer_without_fim():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["def f(x):\n    return x + 1\n"] * 20,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=[ours.EOS],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=ours.EOS)


def test_uses_the_tokenizers_own_fim_tokens():
    tok = tiny_tokenizer()
    n = len(tok)
    fim = FimFormat.for_tokenizer(tok)
    assert (fim.prefix_token, fim.suffix_token, fim.middle_token) == (ours.FIM_PREFIX, ours.FIM_SUFFIX,
                                                                       ours.FIM_MIDDLE)
    assert fim.added == () and len(tok) == n


def test_recognises_other_families():
    tok = _tokenizer_without_fim()
    tok.add_special_tokens({"additional_special_tokens": ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]})
    fim = FimFormat.for_tokenizer(tok)
    assert fim.prefix_token == "<|fim_prefix|>" and fim.pad_token is None and not fim.added


def test_adds_ours_as_special_tokens_when_missing():
    tok = _tokenizer_without_fim()
    n = len(tok)
    with pytest.raises(ValueError, match="no fill-in-the-middle tokens"):
        FimFormat.for_tokenizer(tok, add_missing=False)
    fim = FimFormat.for_tokenizer(tok)
    assert set(fim.added) == {ours.FIM_PREFIX, ours.FIM_SUFFIX, ours.FIM_MIDDLE, ours.FIM_PAD}
    assert len(tok) == n + 4
    ids = tok(fim.prompt("a = ", "\n"))["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids(ours.FIM_PREFIX)  # one token, never split
    assert FimFormat.for_tokenizer(tok).added == ()  # a second call finds them


def test_psm_and_spm_prompts():
    fim = FimFormat.for_tokenizer(tiny_tokenizer())
    assert fim.prompt("def f(", "):\n") == "<fim_prefix>def f(<fim_suffix>):\n<fim_middle>"
    assert fim.prompt("def f(", "):\n", mode="spm") == "<fim_prefix><fim_suffix>):\n<fim_middle>def f("
    with pytest.raises(ValueError, match="unknown FIM mode"):
        fim.prompt("a", "b", mode="pms")


@pytest.mark.parametrize("mode", ["psm", "spm"])
def test_training_sequence_is_prompt_then_middle_then_eos(mode):
    tok = tiny_tokenizer()
    fim = FimFormat.for_tokenizer(tok)
    prefix, middle, suffix = "def add(a, b):\n    return ", "a + b", "\n\nprint(add(1, 2))\n"
    ids = fim.encode(tok, prefix, middle, suffix, mode)
    prompt_ids = tok(fim.prompt(prefix, suffix, mode))["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids  # generation sees exactly the training prefix
    assert ids[-1] == tok.eos_token_id
    assert tok.decode(ids[len(prompt_ids):-1]) == middle


def test_literal_fim_text_in_a_file_stays_text():
    tok = tiny_tokenizer()
    fim = FimFormat.for_tokenizer(tok)
    ids = fim.encode(tok, 'TOKEN = "<fim_prefix>"\n', "x = 1", "", "psm")
    assert ids.count(tok.convert_tokens_to_ids(ours.FIM_PREFIX)) == 1


def test_random_split_rates_and_reassembly():
    rng = random.Random(0)
    text = "".join(f"line {i}\n" for i in range(50))
    splits = [random_fim_split(text, rng, fim_rate=0.5, spm_rate=0.5) for _ in range(400)]
    done = [s for s in splits if s is not None]
    assert 150 < len(done) < 250
    assert 0.3 < sum(s.mode == "spm" for s in done) / len(done) < 0.7
    assert all(s.prefix + s.middle + s.suffix == text for s in done)
    assert random_fim_split(text, rng, fim_rate=0.0) is None
    with pytest.raises(ValueError):
        random_fim_split(text, rng, fim_rate=1.5)
