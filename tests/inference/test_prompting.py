"""FIM prompts under a token budget: prefix cut from the left, suffix from the right, on line boundaries."""

from __future__ import annotations

import pytest

from codecustom.errors import ModelError
from codecustom.inference.prompting import build_fim_prompt, fim_format, token_counter


@pytest.fixture(scope="module")
def tok():
    from tests.support.tiny import tiny_tokenizer

    return tiny_tokenizer()


def test_whole_file_fits(tok):
    fim = fim_format(tok)
    p = build_fim_prompt("def f():\n    return ", "\n\nx = f()\n", fim, token_counter(tok), 512)
    assert p.prefix == "def f():\n    return " and p.suffix == "\n\nx = f()\n"
    assert not p.truncated_prefix and not p.truncated_suffix
    assert p.text == fim.prompt(p.prefix, p.suffix)
    assert p.text.startswith("<fim_prefix>") and p.text.endswith("<fim_middle>")


def test_budget_cuts_on_line_boundaries(tok):
    prefix = "".join(f"line_{i} = {i}\n" for i in range(200)) + "value = "
    suffix = "\n" + "".join(f"after_{i} = {i}\n" for i in range(200))
    count = token_counter(tok)
    p = build_fim_prompt(prefix, suffix, fim_format(tok), count, 200)
    assert p.truncated_prefix and p.truncated_suffix
    assert p.prefix.endswith("line_199 = 199\nvalue = ")  # the nearest lines are kept
    assert p.prefix.startswith("line_")  # whole lines only
    assert p.suffix.startswith("\nafter_0 = 0\n") and p.suffix.endswith("\n")
    total = len(tok(p.text, add_special_tokens=False)["input_ids"])
    assert total <= 200 + 8  # per-line counts are a close estimate of the joined text
    assert p.suffix_tokens <= 200 * 0.25 + 20


def test_short_prefix_leaves_room_for_more_suffix(tok):
    suffix = "\n" + "".join(f"after_{i} = {i}\n" for i in range(100))
    p = build_fim_prompt("x = ", suffix, fim_format(tok), token_counter(tok), 300)
    assert p.suffix_tokens > 300 * 0.25  # suffix share is a cap only when the prefix needs the room


def test_overlong_cursor_line_is_cut_by_characters(tok):
    prefix = "x = " + "a" * 5000
    p = build_fim_prompt(prefix, "", fim_format(tok), token_counter(tok), 64)
    assert p.truncated_prefix and prefix.endswith(p.prefix) and 0 < len(p.prefix) < 5000


def test_char_estimate_without_tokenizer():
    count = token_counter(None)
    assert count(["abcdef", "", "a"]) == [2, 0, 1]


def test_tokenizer_without_fim_tokens_is_a_clear_error():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    plain = PreTrainedTokenizerFast(tokenizer_object=raw)
    with pytest.raises(ModelError, match="fill-in-the-middle"):
        fim_format(plain)
