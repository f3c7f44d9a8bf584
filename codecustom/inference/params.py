"""What every backend takes and returns: generation parameters and the ``Backend`` protocol."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from codecustom.errors import UsageError
from codecustom.inference.stopping import StopRule, explain_stop


@dataclass(frozen=True)
class GenerationParams:
    """How to decode.

    ``temperature == 0`` means greedy decoding (then ``top_p`` and ``seed`` do not matter).
    ``stop`` strings end a sample (the stop string itself is not returned, as in the OpenAI API);
    ``stop_rule`` is a richer text rule (end of block, first newline, ...) checked on the fly while
    decoding. ``num_samples`` samples are returned per prompt.
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    num_samples: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # whether the tokenizer's usual special tokens (a BOS, ...) are added to the prompt: FIM prompts
    # are trained without them, test prompts with them (see codecustom.data)
    add_special_tokens: bool = True
    # re-choose the prompt's last token (codecustom.inference.healing); backends that cannot ignore it
    token_healing: bool = False
    # forbid a further copy of a span repeated within a line (codecustom.inference.loopguard); in-process only
    loop_guard: bool = False
    stop_rule: StopRule | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise UsageError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            raise UsageError(f"num_samples must be at least 1, got {self.num_samples}")
        if isinstance(self.stop, str):  # a lone string is a common slip; treat it as one stop string
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(s for s in self.stop if s))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_(self, **changes) -> GenerationParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def cut(self, text: str) -> tuple[str, str | None]:
        """``text`` cut at the earliest stop string or stop-rule position, and why it was cut (None: not cut)."""
        found = first_stop(text, self.stop, self.stop_rule)
        return (text, None) if found is None else (text[:found[0]], found[1])

    def finish(self, text: str, *, eos: bool, tokens: int) -> Generation:
        """The returned continuation: ``text`` cut by the stop rules, with why decoding ended.

        ``eos``: the model emitted an end-of-sequence token; ``tokens``: how many new tokens it produced.
        """
        kept, reason = self.cut(text)
        if reason is None:
            reason = STOP_EOS if eos or tokens < self.max_new_tokens else STOP_LENGTH
        return Generation(kept, reason)


# Why a continuation ended (``Generation.stop_reason``); stop rules name their own (``StopRule.reason``).
STOP_EOS = "eos"
STOP_LENGTH = "length"
STOP_STRING = "stop string"
STOP_CANCELLED = "cancelled"


class Generation(str):
    """A continuation (the text itself) that also says why decoding ended: ``stop_reason`` is ``"eos"``,
    ``"length"`` (token limit), ``"stop string"``, ``"cancelled"`` or the ``reason`` of the stop rule that
    cut it (e.g. ``"end of test"``, ``"loop"``). A ``str`` so callers that only want text need no change."""

    stop_reason: str

    def __new__(cls, text: str, stop_reason: str = STOP_EOS) -> Generation:
        obj = super().__new__(cls, text)
        obj.stop_reason = stop_reason
        return obj

    def __reduce__(self) -> tuple:
        return Generation, (str(self), self.stop_reason)


def first_stop(text: str, stop: Sequence[str], rule: StopRule | None) -> tuple[int, str] | None:
    """(index where ``text`` should end, why) according to ``stop`` strings and ``rule``; None: not yet."""
    best: tuple[int, str] | None = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, STOP_STRING)
    if rule is not None:
        found = explain_stop(rule, text)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best


def earliest_stop(text: str, stop: Sequence[str], rule: StopRule | None) -> int | None:
    """Index where ``text`` should end according to ``stop`` strings and ``rule`` (None: not yet)."""
    found = first_stop(text, stop, rule)
    return None if found is None else found[0]


@runtime_checkable
class Backend(Protocol):
    """Something that turns prompts into ``num_samples`` continuations each."""

    def generate(self, prompts: list[str], params: GenerationParams,
                 cancel: threading.Event | None = None) -> list[list[Generation]]:
        """One list of ``params.num_samples`` continuations per prompt (empty strings if cancelled)."""
        ...
