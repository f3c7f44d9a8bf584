"""Keep greedy decoding out of in-line loops (``test_no_kwargs_on_kwargs_on_kwargs_on...``).

Small code models decoding greedily fall into a loop inside a line and never leave it: a name or an
expression grows by the same few tokens until the token limit. The guard looks at the tokens of the
current line (since the last token holding a newline) and forbids the token that would start one more
consecutive copy of a span already repeated: a span of 2–8 tokens may appear 3 times in a row, a single
token 5 times. Real code rarely goes further (``[0, 0, 0, 0]`` still passes); loops always do. Loops of
whole lines are cut afterwards by :class:`codecustom.inference.stopping.RepetitionLoop`.
"""

from __future__ import annotations

from typing import Any

MAX_SPAN = 8
COPIES = {1: 5}  # span length -> consecutive copies allowed (default below)
DEFAULT_COPIES = 3


def banned_next(line: list[int]) -> set[int]:
    """Tokens that would start one copy too many of a span repeated at the end of ``line``."""
    banned: set[int] = set()
    for span in range(1, MAX_SPAN + 1):
        copies = COPIES.get(span, DEFAULT_COPIES)
        need = span * copies
        if len(line) < need:
            break
        unit = line[-span:]
        if all(line[-(c + 1) * span:len(line) - c * span] == unit for c in range(1, copies)):
            banned.add(unit[0])
    return banned


class LineLoopGuard:
    """A transformers ``LogitsProcessor`` applying :func:`banned_next` to every row (new tokens only)."""

    def __init__(self, tokenizer: Any, prompt_width: int) -> None:
        self.start = prompt_width
        self.newline = newline_tokens(tokenizer)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for row, ids in enumerate(input_ids[:, self.start:].tolist()):
            line = current_line(ids, self.newline)
            banned = banned_next(line)
            if banned:
                scores[row, list(banned)] = float("-inf")
        return scores


def current_line(ids: list[int], newline: frozenset[int]) -> list[int]:
    """The tokens after the last token that holds a newline."""
    for i in range(len(ids) - 1, -1, -1):
        if ids[i] in newline:
            return ids[i + 1:]
    return ids


def newline_tokens(tokenizer: Any) -> frozenset[int]:
    """Ids of every vocabulary token whose text holds a newline (cached on the tokenizer)."""
    cached = getattr(tokenizer, "_codecustom_newline_ids", None)
    if cached is None:
        vocab = tokenizer.get_vocab()
        cached = frozenset(i for i in vocab.values() if "\n" in tokenizer.decode([i]))
        try:
            tokenizer._codecustom_newline_ids = cached
        except AttributeError:
            pass
    return cached
