"""The test-generation task: focal context -> unit test.

One format for training and for generation. A prompt is a short header in the language's own comment
syntax, the focal context, and a marker line after which the model writes the test::

    # language: python
    # focal context:
    class Calculator:
        def add(self, a, b): ...
    # unit test:

Causal models see ``prompt + test + eos`` with the loss on the test tokens only; seq2seq models get
the prompt as encoder input and ``test + eos`` as the decoder target. The prompt is always tokenized
on its own (``tokenizer(prompt)``, the tokenizer's usual special tokens included) so what the model
sees at generation time is exactly what it saw in training. :func:`fit_test_prompt` is the one way to
shorten a context that does not fit, used by both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codecustom.mining.records import CONTEXT_LEVELS

# Bump when the prompt text changes: artifacts record it so a mismatch can be detected.
PROMPT_VERSION = 1
DEFAULT_CONTEXT_LEVEL = "fm_fc_c_m"
IGNORE_INDEX = -100

# Line-comment syntax per language; the header and marker are written as comments so the prompt
# still reads as code of that language.
COMMENT_PREFIX: dict[str, str] = {
    "python": "#",
    "java": "//",
    "javascript": "//",
    "typescript": "//",
    "go": "//",
    "c": "//",
    "cpp": "//",
    "csharp": "//",
    "kotlin": "//",
    "rust": "//",
    "scala": "//",
    "ruby": "#",
    "shell": "#",
}


def comment_prefix(language: str) -> str:
    """The line-comment token used in prompts for ``language`` (``#`` when unknown)."""
    return COMMENT_PREFIX.get(language.lower(), "#")


def _header(language: str) -> str:
    c = comment_prefix(language)
    return f"{c} language: {language.lower()}\n{c} focal context:\n"


def _marker(language: str) -> str:
    return f"{comment_prefix(language)} unit test:\n"


def build_test_prompt(context: str, language: str) -> str:
    """The prompt for generating a unit test of the focal method described by ``context``."""
    return f"{_header(language)}{context.strip(chr(10))}\n{_marker(language)}"


def pick_context(contexts: dict[str, str], level: str = DEFAULT_CONTEXT_LEVEL) -> str:
    """The focal context at ``level``, falling back to the nearest smaller level the record has."""
    if level not in CONTEXT_LEVELS:
        raise ValueError(f"unknown context level {level!r}; choose one of {', '.join(CONTEXT_LEVELS)}")
    for lvl in reversed(CONTEXT_LEVELS[: CONTEXT_LEVELS.index(level) + 1]):
        if contexts.get(lvl):
            return contexts[lvl]
    return next((v for v in contexts.values() if v), "")


def _n_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text)["input_ids"])


def fit_test_prompt(tokenizer: Any, context: str, language: str, max_tokens: int) -> str:
    """``build_test_prompt`` with the context cut (whole lines kept from its start) to fit ``max_tokens``.

    The start of a context holds the class and the focal method, so the end is what gets dropped.
    Returns the untouched prompt when it already fits.
    """
    prompt = build_test_prompt(context, language)
    if _n_tokens(tokenizer, prompt) <= max_tokens:
        return prompt
    fixed = _n_tokens(tokenizer, build_test_prompt("", language))
    budget = max(0, max_tokens - fixed)
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    cut = offsets[budget - 1][1] if 0 < budget <= len(offsets) else 0
    text = context[:cut]
    if "\n" in text:  # keep whole lines when at least one fits
        text = text[: text.rfind("\n")]
    while text and _n_tokens(tokenizer, build_test_prompt(text, language)) > max_tokens:
        text = text[: max(0, len(text) - max(1, len(text) // 10))]
    return build_test_prompt(text, language)


@dataclass
class EncodedTest:
    """One tokenized example: model inputs and whether anything was cut to fit."""

    features: dict[str, list[int]]
    prompt_truncated: bool
    target_truncated: bool


def encode_test_example(tokenizer: Any, context: str, test: str, language: str, *, is_seq2seq: bool,
                        max_length: int, max_target_length: int | None = None) -> EncodedTest:
    """Tokenize one (context, test) pair for training or loss evaluation.

    Causal: ``input_ids = prompt + test + eos`` (at most ``max_length``), ``labels`` = -100 on the prompt.
    Seq2seq: ``input_ids`` = prompt (at most ``max_length``), ``labels`` = test + eos (at most
    ``max_target_length``, default ``max_length``). A test longer than its budget is cut (its eos lost).
    """
    eos = tokenizer.eos_token_id
    if is_seq2seq:
        target_cap = max_target_length or max_length
        target = tokenizer(test, add_special_tokens=True)["input_ids"]
        if not target or target[-1] != eos:
            target = target + [eos]
        target_cut = len(target) > target_cap
        target = target[:target_cap]
        prompt = fit_test_prompt(tokenizer, context, language, max_length)
        ids = tokenizer(prompt)["input_ids"][:max_length]
        return EncodedTest({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": target},
                           prompt != build_test_prompt(context, language), target_cut)
    target = tokenizer(test, add_special_tokens=False)["input_ids"] + [eos]
    target_cap = max_target_length or max(1, max_length // 2)
    prompt_room = max_length - min(len(target), target_cap)
    full_prompt = build_test_prompt(context, language)
    prompt = fit_test_prompt(tokenizer, context, language, prompt_room)
    prompt_ids = tokenizer(prompt)["input_ids"]
    if len(prompt_ids) >= max_length:
        raise ValueError(f"max_length {max_length} leaves no room for the test after the prompt header")
    room = max_length - len(prompt_ids)  # the prompt may be shorter than its room: give the rest to the test
    target_cut = len(target) > room
    target = target[: max(room, 0)]
    ids = prompt_ids + target
    return EncodedTest({"input_ids": ids, "attention_mask": [1] * len(ids),
                        "labels": [IGNORE_INDEX] * len(prompt_ids) + target},
                       prompt != full_prompt, target_cut)
