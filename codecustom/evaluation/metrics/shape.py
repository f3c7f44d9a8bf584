"""How generated code is shaped, next to its reference: length and degenerate repetition.

A model that never learned where a test ends writes until the token limit and falls into loops; these
numbers show that where BLEU alone cannot. Code is split into rough lexical tokens (identifiers,
numbers, single punctuation characters), the same for every language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|\S")


def code_tokens(code: str) -> list[str]:
    """Identifiers, numbers and single punctuation characters of ``code``."""
    return _TOKEN.findall(code)


def repeated_ngram_rate(code: str, n: int = 4) -> float:
    """Share of the token ``n``-grams of ``code`` that already occurred earlier in it (0.0 when none)."""
    tokens = code_tokens(code)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return sum(c - 1 for c in Counter(grams).values()) / len(grams)


def shape_metrics(samples: Sequence[str], references: Sequence[str]) -> dict[str, float | None]:
    """Mean length (code tokens) of samples and references, their ratio, and both repeated 4-gram rates."""
    if not samples:
        return {}
    gen = [len(code_tokens(s)) for s in samples]
    ref = [len(code_tokens(r)) for r in references]
    mean_gen, mean_ref = sum(gen) / len(gen), sum(ref) / max(1, len(ref))
    return {
        "generated_tokens": round(mean_gen, 1),
        "reference_tokens": round(mean_ref, 1),
        "length_ratio": round(mean_gen / mean_ref, 3) if mean_ref else None,
        "repeated_4gram_rate": _mean(repeated_ngram_rate(s) for s in samples),
        "reference_repeated_4gram_rate": _mean(repeated_ngram_rate(r) for r in references),
    }


def stop_breakdown(reasons: Iterable[str]) -> dict[str, float]:
    """Share of samples per reason decoding ended (``eos``, ``end of test``, ``loop``, ``length``, ...)."""
    counts = Counter(reasons)
    total = sum(counts.values())
    return {reason: round(n / total, 4) for reason, n in counts.most_common()} if total else {}


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else None
