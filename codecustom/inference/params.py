"""What every backend takes and returns: generation parameters and the ``Backend`` protocol."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from codecustom.errors import UsageError
from codecustom.inference.stopping import StopRule


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

    def cut(self, text: str) -> tuple[str, bool]:
        """``text`` cut at the earliest stop string or stop-rule position; second item: whether it was cut."""
        end = earliest_stop(text, self.stop, self.stop_rule)
        return (text, False) if end is None else (text[:end], True)


def earliest_stop(text: str, stop: Sequence[str], rule: StopRule | None) -> int | None:
    """Index where ``text`` should end according to ``stop`` strings and ``rule`` (None: not yet)."""
    best: int | None = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i < best):
            best = i
    if rule is not None:
        i = rule(text)
        if i is not None and (best is None or i < best):
            best = i
    return best


@runtime_checkable
class Backend(Protocol):
    """Something that turns prompts into ``num_samples`` continuations each."""

    def generate(self, prompts: list[str], params: GenerationParams,
                 cancel: threading.Event | None = None) -> list[list[str]]:
        """One list of ``params.num_samples`` continuations per prompt (empty strings if cancelled)."""
        ...
