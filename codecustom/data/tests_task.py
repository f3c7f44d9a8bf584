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
on its own (``tokenizer(prompt)``, the tokenizer's usual special tokens included) and fitted to a fixed
share of the window (:class:`TestBudget`), so what the model sees at generation time is exactly what it
saw in training. :func:`fit_test_prompt` is the one way to shorten a context that does not fit, used by
both sides. A test too long for its share is left out of training rather than cut: a model trained on
tests without their end learns never to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codecustom.mining.records import CONTEXT_LEVELS

# Bump when the prompt text changes: artifacts record it so a mismatch can be detected.
PROMPT_VERSION = 2  # 2: the prompt's share of the window is fixed (TestBudget), not left over by the test
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


@dataclass(frozen=True)
class TestBudget:
    """How one tests-task sequence of ``max_length`` tokens is shared: the prompt gets at most ``prompt``
    tokens, the test (with its end-of-sequence token) at most ``target``.

    The split is fixed, never decided by the length of the test at hand, so the prompt a model is trained
    on is exactly the prompt it gets at generation time, when the test is not known yet
    (:meth:`codecustom.inference.TestGenEngine.for_model` reads it from the artifact's task settings).
    """

    __test__ = False  # not a pytest test class

    prompt: int
    target: int

    @classmethod
    def of(cls, max_length: int, max_target_length: int | None = None, *, is_seq2seq: bool = False) -> TestBudget:
        """The budget for a window of ``max_length`` (target default: half of it)."""
        target = max_target_length or max(1, max_length // 2)
        if is_seq2seq:  # encoder input and decoder target are separate sequences
            return cls(prompt=max_length, target=target)
        target = max(1, min(target, max_length - MIN_PROMPT_TOKENS))
        return cls(prompt=max_length - target, target=target)


MIN_PROMPT_TOKENS = 16  # the header, the marker and a line of context


@dataclass
class EncodedTest:
    """One tokenized example and what had to be done to make it fit.

    ``features`` is None when the test is longer than the budget and ``long_target="drop"``: a model
    must never be trained to continue past the end of a test whose end it never saw.
    """

    features: dict[str, list[int]] | None
    prompt_truncated: bool
    target_truncated: bool  # the test did not fit its budget (dropped, or cut with long_target="cut")


def target_ids(tokenizer: Any, test: str, *, is_seq2seq: bool) -> list[int]:
    """The token ids a model is trained to produce for ``test``: the test, then the end-of-sequence token."""
    eos = tokenizer.eos_token_id
    ids = tokenizer(test, add_special_tokens=is_seq2seq)["input_ids"]
    return ids if ids and ids[-1] == eos else ids + [eos]


def encode_test_example(tokenizer: Any, context: str, test: str, language: str, *, is_seq2seq: bool,
                        max_length: int, max_target_length: int | None = None,
                        long_target: str = "drop") -> EncodedTest:
    """Tokenize one (context, test) pair for training or loss evaluation, within :class:`TestBudget`.

    Causal: ``input_ids = prompt + test + eos``, ``labels`` = -100 on the prompt. Seq2seq: ``input_ids``
    = prompt, ``labels`` = test + eos. The prompt is fitted to the budget's prompt share whatever the
    test's length. A test over the target share is dropped (``long_target="drop"``, for training) or cut,
    losing its end (``"cut"``, for scoring a reference that must not be skipped).
    """
    budget = TestBudget.of(max_length, max_target_length, is_seq2seq=is_seq2seq)
    target = target_ids(tokenizer, test, is_seq2seq=is_seq2seq)
    too_long = len(target) > budget.target
    prompt = fit_test_prompt(tokenizer, context, language, budget.prompt)
    cut_prompt = prompt != build_test_prompt(context, language)
    if too_long and long_target == "drop":
        return EncodedTest(None, cut_prompt, True)
    target = target[:budget.target]
    prompt_ids = tokenizer(prompt)["input_ids"][:budget.prompt]
    if is_seq2seq:
        return EncodedTest({"input_ids": prompt_ids, "attention_mask": [1] * len(prompt_ids), "labels": target},
                           cut_prompt, too_long)
    ids = prompt_ids + target
    return EncodedTest({"input_ids": ids, "attention_mask": [1] * len(ids),
                        "labels": [IGNORE_INDEX] * len(prompt_ids) + target}, cut_prompt, too_long)
