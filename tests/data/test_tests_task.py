"""The test-generation format: one prompt for training and generation, loss on the test only."""

from __future__ import annotations

import pytest

from codecustom.data.tests_task import (IGNORE_INDEX, TestBudget, build_test_prompt, encode_test_example,
                                        fit_test_prompt, pick_context)
from tests.support.tiny import tiny_tokenizer

CONTEXT = "class Calculator:\n    def add(self, a, b):\n        return a + b\n    def sub(self, a, b): ...\n"
TEST = "def test_add(self):\n    self.assertEqual(Calculator().add(1, 2), 3)\n"


def test_prompt_uses_the_languages_comment_syntax_and_ends_at_the_marker():
    py = build_test_prompt(CONTEXT, "python")
    java = build_test_prompt("class A { int f() { return 1; } }", "java")
    assert py.startswith("# language: python\n# focal context:\nclass Calculator:")
    assert py.endswith("        return a + b\n    def sub(self, a, b): ...\n# unit test:\n")
    assert java.startswith("// language: java\n") and java.endswith("// unit test:\n")


def test_pick_context_falls_back_to_the_nearest_smaller_level():
    ctx = {"fm": "m", "fm_fc": "c m", "fm_fc_c": "", "fm_fc_c_m": "", "fm_fc_c_m_f": ""}
    assert pick_context(ctx, "fm_fc_c_m") == "c m"
    assert pick_context(ctx, "fm") == "m"
    with pytest.raises(ValueError, match="unknown context level"):
        pick_context(ctx, "everything")


def test_causal_example_masks_the_prompt_and_ends_with_eos():
    tok = tiny_tokenizer()
    enc = encode_test_example(tok, CONTEXT, TEST, "python", is_seq2seq=False, max_length=512)
    ids, labels = enc.features["input_ids"], enc.features["labels"]
    prompt_ids = tok(build_test_prompt(CONTEXT, "python"))["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids  # exactly what generation will feed the model
    assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert labels[len(prompt_ids):] == ids[len(prompt_ids):]
    assert ids[-1] == tok.eos_token_id
    assert tok.decode(ids[len(prompt_ids):-1]) == TEST
    assert not enc.prompt_truncated and not enc.target_truncated


def test_seq2seq_example_puts_the_prompt_in_the_encoder_and_the_test_in_the_labels():
    tok = tiny_tokenizer()
    enc = encode_test_example(tok, CONTEXT, TEST, "python", is_seq2seq=True, max_length=512)
    assert enc.features["input_ids"] == tok(build_test_prompt(CONTEXT, "python"))["input_ids"]
    assert enc.features["labels"][-1] == tok.eos_token_id
    assert tok.decode(enc.features["labels"][:-1]) == TEST


def test_long_context_is_cut_at_line_ends_and_the_marker_survives():
    tok = tiny_tokenizer()
    context = CONTEXT + "".join(f"    def helper_{i}(self, value): ...\n" for i in range(200))
    prompt = fit_test_prompt(tok, context, "python", 120)
    assert len(tok(prompt)["input_ids"]) <= 120
    assert prompt.startswith(build_test_prompt(CONTEXT, "python")[:40])
    assert prompt.endswith("): ...\n# unit test:\n")  # whole lines kept
    enc = encode_test_example(tok, context, TEST, "python", is_seq2seq=False, max_length=160)
    assert len(enc.features["input_ids"]) <= 160 and enc.prompt_truncated and not enc.target_truncated


def test_a_test_longer_than_its_share_is_dropped_for_training_and_cut_only_on_request():
    tok = tiny_tokenizer()
    long_test = TEST + "".join(f"    self.assertEqual({i}, {i})\n" for i in range(100))
    enc = encode_test_example(tok, CONTEXT, long_test, "python", is_seq2seq=False, max_length=128)
    assert enc.features is None and enc.target_truncated  # never trained on a test whose end was cut off
    cut = encode_test_example(tok, CONTEXT, long_test, "python", is_seq2seq=False, max_length=128, long_target="cut")
    assert len(cut.features["input_ids"]) <= 128 and cut.target_truncated
    assert cut.features["labels"][-1] != tok.eos_token_id


def test_the_prompt_share_does_not_depend_on_the_test():
    """Generation cannot know the test's length, so training must not use it to size the prompt."""
    tok = tiny_tokenizer()
    context = CONTEXT + "".join(f"    def helper_{i}(self, value): ...\n" for i in range(200))
    short = encode_test_example(tok, context, TEST, "python", is_seq2seq=False, max_length=256)
    longer = encode_test_example(tok, context, TEST + "    assert 1\n" * 10, "python", is_seq2seq=False,
                                 max_length=256)
    prompt_of = [[t for t, lab in zip(e.features["input_ids"], e.features["labels"]) if lab == IGNORE_INDEX]
                 for e in (short, longer)]
    budget = TestBudget.of(256)
    assert prompt_of[0] == prompt_of[1] == tok(fit_test_prompt(tok, context, "python", budget.prompt))["input_ids"]
    assert len(prompt_of[0]) <= budget.prompt == 128
    assert TestBudget.of(512, 96) == TestBudget(prompt=416, target=96)
    assert TestBudget.of(512, 96, is_seq2seq=True) == TestBudget(prompt=512, target=96)
