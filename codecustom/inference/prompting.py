"""Prompt building: fill-in-the-middle prompts under a token budget, and test-generation prompts.

The prompt *formats* belong to ``codecustom.data`` (training and inference must format identically):
FIM via ``codecustom.data.fim.FimFormat`` and tests via ``codecustom.data.tests_task.build_test_prompt``.
This module only decides how much of the file goes into the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from codecustom.errors import ModelError

# Tokens taken by the FIM sentinels themselves (prefix/suffix/middle markers, maybe a BOS).
_SENTINEL_TOKENS = 4
_CHARS_PER_TOKEN = 3  # fallback estimate when only a FimFormat (no tokenizer) is available


class FimLike(Protocol):
    def prompt(self, prefix: str, suffix: str, mode: str = "psm") -> str: ...


def fim_format(tokenizer_or_fim: Any) -> FimLike:
    """The FIM formatter for a tokenizer (its own FIM tokens), or the formatter itself if one is passed.

    Unlike training, inference never adds tokens to the tokenizer: a model without FIM tokens cannot
    fill in the middle, and that is a clear error.
    """
    if not is_tokenizer(tokenizer_or_fim):
        if not hasattr(tokenizer_or_fim, "prompt"):
            raise TypeError(f"expected a tokenizer or a FIM format, got {type(tokenizer_or_fim).__name__}")
        return tokenizer_or_fim
    from codecustom.data.fim import FimFormat

    try:
        return FimFormat.for_tokenizer(tokenizer_or_fim, add_missing=False)
    except ValueError:
        raise ModelError("this model's tokenizer has no fill-in-the-middle tokens",
                         hint="use a code model trained with FIM, or customize one with codecustom") from None


def is_tokenizer(obj: Any) -> bool:
    """True for a Hugging Face tokenizer (as opposed to a bare FIM formatter)."""
    return hasattr(obj, "get_vocab") and callable(obj)


def token_counter(tokenizer: Any | None) -> Callable[[Sequence[str]], list[int]]:
    """A function giving the token count of each text (an estimate from characters without a tokenizer)."""
    if tokenizer is None or not is_tokenizer(tokenizer):
        return lambda texts: [max(1, -(-len(t) // _CHARS_PER_TOKEN)) if t else 0 for t in texts]

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    return count


@dataclass(frozen=True)
class FimPrompt:
    """A FIM prompt and what was kept of the file."""

    text: str
    prefix: str  # the part of the prefix that went in
    suffix: str  # the part of the suffix that went in
    prefix_tokens: int
    suffix_tokens: int
    truncated_prefix: bool
    truncated_suffix: bool


def build_fim_prompt(prefix: str, suffix: str, fim: FimLike, count: Callable[[Sequence[str]], list[int]],
                     budget: int, *, suffix_share: float = 0.25, mode: str = "psm") -> FimPrompt:
    """A FIM prompt holding at most ``budget`` tokens of the file.

    The prefix is cut from the left and the suffix from the right, on line boundaries (the cursor's
    own line is always kept; if it alone is over budget it is cut from the left by characters). The
    suffix gets at most ``suffix_share`` of the budget unless the prefix leaves more room.
    """
    budget = max(8, budget - _SENTINEL_TOKENS)
    pre_lines = prefix.splitlines(keepends=True) or [""]
    if prefix.endswith(("\n", "\r")):
        pre_lines.append("")  # the cursor sits at the start of an empty line
    suf_lines = suffix.splitlines(keepends=True)
    pre_counts = count(pre_lines)
    suf_counts = count(suf_lines)

    suffix_total = sum(suf_counts)
    prefix_budget = budget - min(suffix_total, int(budget * suffix_share))
    kept_pre: list[str] = []
    used = 0
    for line, n in zip(reversed(pre_lines), reversed(pre_counts)):
        if used + n > prefix_budget:
            if not kept_pre:  # the cursor line alone is too long: keep its end
                keep_chars = max(1, len(line) * prefix_budget // max(n, 1))
                kept_pre.append(line[-keep_chars:])
                used = prefix_budget
            break
        kept_pre.append(line)
        used += n
    kept_pre.reverse()
    prefix_used = used

    kept_suf: list[str] = []
    used = 0
    for line, n in zip(suf_lines, suf_counts):
        if prefix_used + used + n > budget:
            break
        kept_suf.append(line)
        used += n
    new_prefix, new_suffix = "".join(kept_pre), "".join(kept_suf)
    return FimPrompt(
        text=fim.prompt(new_prefix, new_suffix, mode=mode),
        prefix=new_prefix, suffix=new_suffix, prefix_tokens=prefix_used, suffix_tokens=used,
        truncated_prefix=len(new_prefix) < len(prefix), truncated_suffix=len(new_suffix) < len(suffix),
    )
