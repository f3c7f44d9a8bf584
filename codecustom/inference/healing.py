"""Token healing: let the model re-choose the prompt's last token.

A cursor often sits inside a word (``from typing impo|``) or after a space. The prompt then ends in a
token the model rarely saw there — byte-level BPE spells ``import`` as one token, never ``impo`` +
``rt`` — so greedy decoding wanders off (``impo`` → ``ssible_tags``). Healing (as in Microsoft's
guidance library) drops the prompt's last tokens and constrains the first generated token to start
with their text; the text the prompt already had is then stripped from the output, so callers still
get the continuation of their original prompt.

Several tokens are dropped when they spell the start of one word that a single vocabulary token
covers (``' imp' + 'o'`` → any token starting with ``' impo'``), so the constraint stays on the first
new token only: that keeps decoding free of per-step host logic (the CUDA-graph path needs that).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Healed:
    """A prompt with its last token taken off: ``ids`` to feed, ``tail`` the first token must begin with."""

    ids: list[int]
    tail: str = ""


class TokenHealer:
    """Healing for one tokenizer (its token texts are decoded once, on first use)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._texts: list[str] | None = None
        self._special = set(getattr(tokenizer, "all_special_ids", []) or [])
        self.allowed_ids = lru_cache(maxsize=256)(self._allowed_ids)

    @property
    def texts(self) -> list[str]:
        """The text of every token id (partial UTF-8 sequences decode to U+FFFD and never match)."""
        if self._texts is None:
            size = len(self.tokenizer)
            self._texts = self.tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False,
                                                      clean_up_tokenization_spaces=False)
        return self._texts

    def heal(self, ids: list[int], max_tokens: int = 4) -> Healed:
        """``ids`` without their last tokens when healing can apply (else unchanged, empty tail).

        The longest run of at most ``max_tokens`` final tokens is taken whose text is part of one word
        (an optional leading space, no other whitespace) and is the start of some single token.
        """
        texts = self.texts
        for k in range(min(max_tokens, len(ids) - 1), 0, -1):
            run = ids[-k:]
            if any(i in self._special or i >= len(texts) for i in run):
                continue
            tail = "".join(texts[i] for i in run)
            if not tail or "\ufffd" in tail or any(ch.isspace() for ch in tail.lstrip(" ")):
                continue
            if k > 1 and tail[0] == " " and tail.lstrip(" ") == "":
                continue
            allowed = self.allowed_ids(tail)
            if len(allowed) >= (2 if k == 1 else 1):  # one token with one option: healing changes nothing
                return Healed(list(ids[:-k]), tail)
        return Healed(list(ids))

    def _allowed_ids(self, tail: str) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.texts) if t.startswith(tail) and i not in self._special)

    def first_token_mask(self, tails: list[str], vocab_size: int, device: Any = None) -> Any:
        """A ``[len(tails), vocab_size]`` bool tensor: True where a row's first token may be that id.

        A row with an empty tail allows every id.
        """
        import torch

        mask = torch.ones((len(tails), vocab_size), dtype=torch.bool)
        for row, tail in enumerate(tails):
            if tail:
                mask[row] = False
                allowed = [i for i in self.allowed_ids(tail) if i < vocab_size]
                mask[row, allowed] = True
        return mask.to(device) if device is not None else mask


def strip_tail(text: str, tail: str) -> str:
    """``text`` (decoded from a healed prompt) as the continuation of the original prompt."""
    return text[len(tail):] if tail and text.startswith(tail) else text
